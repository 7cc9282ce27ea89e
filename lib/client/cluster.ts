import pg from 'pg';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { LSN_PATTERN, lsnToBigInt } from '../domain/lsn.ts';
import { readCommitLsn } from './commitLsn.ts';
import { InterruptedCommitError, commitStatusOn, readPendingCommit, type PendingCommit } from './commitStatus.ts';
import { connectWithRetry, guardCheckedOut, isTransient, pauseBeforeRetry } from './retry.ts';
import { parseClusterOptions, type ClusterOptionsInput } from './options.ts';
import { waitForReplay, type ReplayWait } from './replayWait.ts';

export interface ReadOptions {
  /** A `commitLsn` from `write` or `transaction`: the read sees that commit, from a standby or else the writer. */
  after?: string;
}

export interface Transaction {
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
}

export interface ClientStats {
  writes: number;
  /** Reads served by a reader. */
  readerReads: number;
  /** Reads served by the writer: a reader could not be reached, or had not replayed `after` in time. */
  writerReads: number;
  /** Reads with `after` that had to wait for the standby to replay. */
  waitedReads: number;
  /** Connections and read-only statements tried again after a transient error (a failover, a restart). */
  retries: number;
  /** COMMITs whose answer was lost, and whose fate was then asked of the writer. */
  interruptedCommits: number;
}

export interface Cluster {
  write<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R> & { commitLsn: string }>;
  read<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[], options?: ReadOptions): Promise<QueryResult<R>>;
  /**
   * Runs fn in a transaction on the writer. If the COMMIT's answer is lost (the primary
   * crashed, the connection dropped), the transaction's id is looked up on the writer (the new
   * primary after a failover): committed, this returns with `interrupted: true`; not committed,
   * or unknown within `failover.retryMs`, it throws InterruptedCommitError saying which.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<{ value: T; commitLsn: string; interrupted: boolean }>;
  stats(): ClientStats;
  end(): Promise<void>;
}

interface Reader {
  pool: pg.Pool;
  /** The highest replay position any of its connections reported: a hint for choosing, never proof. */
  seen: bigint;
}

/** Carries fn's error past the outer handler once the connection is already released. */
class RolledBack {
  constructor(readonly cause: unknown) {}
}

/** A SQL error from the server (SQLSTATE) leaves the session usable, unless it says the connection is going. */
function keepsSession(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57');
}

async function run<R extends QueryResultRow>(client: PoolClient, sql: string, params?: unknown[]): Promise<QueryResult<R>> {
  try {
    const result = await client.query<R>(sql, params);
    client.release();
    return result;
  } catch (err) {
    client.release(keepsSession(err) ? undefined : (err as Error));
    throw err;
  }
}

/**
 * Read/write splitting over pg pools. Writes and transactions go to the writer and return the
 * commit LSN; reads go to a reader; a read given `after` never sees data older than that commit.
 * Bad options are a programming error: this throws one message naming the field.
 */
export function createCluster(input: ClusterOptionsInput): Cluster {
  const parsed = parseClusterOptions(input);
  if (!parsed.ok) throw new Error(parsed.reason);
  const { readYourWrites, failover } = parsed.value;
  const writer = new pg.Pool(parsed.value.writer);
  const readers: Reader[] = parsed.value.readers.map((cfg) => ({ pool: new pg.Pool(cfg), seen: -1n }));
  // An idle pooled connection that dies (server restart, proxy cut) must not crash the application.
  for (const pool of [writer, ...readers.map((r) => r.pool)]) pool.on('error', () => {});
  const stats: ClientStats = { writes: 0, readerReads: 0, writerReads: 0, waitedReads: 0, retries: 0, interruptedCommits: 0 };
  const retried = () => {
    stats.retries++;
  };
  const deadline = () => performance.now() + failover.retryMs;
  const connectWriter = () => connectWithRetry(writer, deadline(), retried);
  let next = 0;

  function pick(after: bigint | null): Reader {
    const n = readers.length;
    const start = next++ % n;
    if (after !== null) {
      for (let i = 0; i < n; i++) {
        const r = readers[(start + i) % n] as Reader;
        if (r.seen >= after) return r;
      }
    }
    return readers[start] as Reader;
  }

  /** A read on the writer, tried again across a failover: a read-only statement is safe to repeat. */
  async function onWriter<R extends QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    stats.writerReads++;
    const until = deadline();
    for (let attempt = 0; ; attempt++) {
      try {
        return await run<R>(await connectWithRetry(writer, until, retried), sql, params);
      } catch (err) {
        if (keepsSession(err) || !isTransient(err) || !(await pauseBeforeRetry(attempt, until))) throw err;
        retried();
      }
    }
  }

  /** The fate of a transaction whose COMMIT answer was lost, asked of the writer until the retry bound. */
  async function settleInterrupted(pending: PendingCommit, cause: unknown): Promise<string> {
    stats.interruptedCommits++;
    const until = deadline();
    for (let attempt = 0; ; attempt++) {
      let client: PoolClient | null = null;
      try {
        client = await connectWithRetry(writer, until, retried);
        const status = await commitStatusOn(client, pending);
        if (status === 'not committed') {
          client.release();
          throw new InterruptedCommitError(false, pending.txid, cause);
        }
        if (status === 'committed') {
          // This server has the commit: its insert position is past it, so reads after it see it.
          const commitLsn = await readCommitLsn(client);
          client.release();
          return commitLsn;
        }
        client.release();
      } catch (err) {
        if (err instanceof InterruptedCommitError) throw err;
        client?.release(keepsSession(err) ? undefined : (err as Error));
        if (!isTransient(err)) throw new InterruptedCommitError(null, pending.txid, cause);
      }
      if (!(await pauseBeforeRetry(attempt, until))) throw new InterruptedCommitError(null, pending.txid, cause);
    }
  }

  /** A read that must see the commit at `target`: on a reader that has replayed it, else on the writer. */
  async function readAfter<R extends QueryResultRow>(sql: string, params: unknown[] | undefined, target: bigint): Promise<QueryResult<R>> {
    const reader = pick(target);
    let client: PoolClient;
    try {
      client = guardCheckedOut(await reader.pool.connect());
    } catch {
      // The reader is unreachable: the writer has every row a reader could have.
      return onWriter<R>(sql, params);
    }
    let replay: ReplayWait;
    try {
      replay = await waitForReplay(client, target, readYourWrites.timeoutMs, readYourWrites.pollMs);
    } catch (err) {
      client.release(keepsSession(err) ? undefined : (err as Error));
      return onWriter<R>(sql, params);
    }
    if (replay === 'behind') {
      client.release();
      return onWriter<R>(sql, params);
    }
    if (replay === 'waited') stats.waitedReads++;
    if (target > reader.seen) reader.seen = target;
    try {
      const result = await run<R>(client, sql, params);
      stats.readerReads++;
      return result;
    } catch (err) {
      if (keepsSession(err)) throw err;
      // The reader went away mid-read (the endpoint dropped a lagging standby, a restart): a read is safe to repeat.
      return onWriter<R>(sql, params);
    }
  }

  return {
    async write<R extends QueryResultRow>(sql: string, params?: unknown[]) {
      const client = await connectWriter();
      try {
        const result = await client.query<R>(sql, params);
        const commitLsn = await readCommitLsn(client);
        client.release();
        stats.writes++;
        return Object.assign(result, { commitLsn });
      } catch (err) {
        client.release(keepsSession(err) ? undefined : (err as Error));
        throw err;
      }
    },

    read<R extends QueryResultRow>(sql: string, params?: unknown[], options?: ReadOptions): Promise<QueryResult<R>> {
      const after = options?.after;
      if (after === undefined) {
        // The hot path, kept free of extra async frames: plain pg, plus a fallback when the reader is gone.
        return pick(null).pool.query<R>(sql, params).then(
          (result) => {
            stats.readerReads++;
            return result;
          },
          (err: unknown) => {
            if (keepsSession(err)) throw err;
            return onWriter<R>(sql, params);
          },
        );
      }
      if (!LSN_PATTERN.test(after)) {
        return Promise.reject(new Error(`read: after: "${after}" is not an LSN like 0/3000148: pass the commitLsn of a write`));
      }
      return readAfter<R>(sql, params, lsnToBigInt(after));
    },
    async transaction<T>(fn: (tx: Transaction) => Promise<T>) {
      const client = await connectWriter();
      try {
        await client.query('BEGIN');
        let value: T;
        let pending: PendingCommit;
        try {
          value = await fn({ query: (sql, params) => client.query(sql, params) });
          pending = await readPendingCommit(client);
        } catch (err) {
          // After a clean ROLLBACK the session is reusable whatever fn threw.
          const clean = await client.query('ROLLBACK').then(() => true, () => false);
          if (clean) client.release();
          else client.release(err instanceof Error ? err : new Error(String(err)));
          throw new RolledBack(err);
        }
        try {
          await client.query('COMMIT');
        } catch (err) {
          if (keepsSession(err)) {
            // The server answered: a failed COMMIT (a serialization or deferred check) did not commit.
            client.release();
            throw new RolledBack(err);
          }
          client.release(err as Error);
          const commitLsn = await settleInterrupted(pending, err);
          stats.writes++;
          return { value, commitLsn, interrupted: true };
        }
        const commitLsn = await readCommitLsn(client);
        client.release();
        stats.writes++;
        return { value, commitLsn, interrupted: false };
      } catch (err) {
        if (err instanceof RolledBack) throw err.cause;
        if (err instanceof InterruptedCommitError) throw err;
        client.release(keepsSession(err) ? undefined : (err as Error));
        throw err;
      }
    },

    stats: () => ({ ...stats }),

    async end() {
      await Promise.all([writer.end(), ...readers.map((r) => r.pool.end())]);
    },
  };
}
