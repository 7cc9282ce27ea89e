import pg from 'pg';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { LSN_PATTERN, lsnToBigInt } from '../domain/lsn.ts';
import { readCommitLsn } from './commitLsn.ts';
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
}

export interface Cluster {
  write<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R> & { commitLsn: string }>;
  read<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[], options?: ReadOptions): Promise<QueryResult<R>>;
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<{ value: T; commitLsn: string }>;
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
  const { readYourWrites } = parsed.value;
  const writer = new pg.Pool(parsed.value.writer);
  const readers: Reader[] = parsed.value.readers.map((cfg) => ({ pool: new pg.Pool(cfg), seen: -1n }));
  // An idle pooled connection that dies (server restart, proxy cut) must not crash the application.
  for (const pool of [writer, ...readers.map((r) => r.pool)]) pool.on('error', () => {});
  const stats: ClientStats = { writes: 0, readerReads: 0, writerReads: 0, waitedReads: 0 };
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

  async function onWriter<R extends QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    stats.writerReads++;
    return run<R>(await writer.connect(), sql, params);
  }

  /** A read that must see the commit at `target`: on a reader that has replayed it, else on the writer. */
  async function readAfter<R extends QueryResultRow>(sql: string, params: unknown[] | undefined, target: bigint): Promise<QueryResult<R>> {
    const reader = pick(target);
    let client: PoolClient;
    try {
      client = await reader.pool.connect();
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
      const client = await writer.connect();
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
      const client = await writer.connect();
      try {
        await client.query('BEGIN');
        let value: T;
        try {
          value = await fn({ query: (sql, params) => client.query(sql, params) });
          await client.query('COMMIT');
        } catch (err) {
          // After a clean ROLLBACK the session is reusable whatever fn threw.
          const clean = await client.query('ROLLBACK').then(() => true, () => false);
          if (clean) client.release();
          else client.release(err instanceof Error ? err : new Error(String(err)));
          throw new RolledBack(err);
        }
        const commitLsn = await readCommitLsn(client);
        client.release();
        stats.writes++;
        return { value, commitLsn };
      } catch (err) {
        if (err instanceof RolledBack) throw err.cause;
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
