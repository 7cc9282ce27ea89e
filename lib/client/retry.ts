import type pg from 'pg';
import type { PoolClient } from 'pg';

/**
 * Whether an error means "the server went away or is not there yet" (a failover, a restart),
 * so the same request may be tried again: no SQLSTATE (a reset, a refused or timed-out
 * connect), connection exceptions (08), or the server shutting down or starting up
 * (57P01–57P03, and the endpoint's own 57P03 when its hold ran out). A bad login or bad SQL
 * never is.
 */
export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03';
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Backoff between tries: 100 ms doubling to 1 s, never past the deadline. */
export async function pauseBeforeRetry(attempt: number, deadline: number): Promise<boolean> {
  const left = deadline - performance.now();
  if (left <= 0) return false;
  await sleep(Math.min(100 * 2 ** Math.min(attempt, 4), 1_000, left));
  return true;
}

const guarded = new WeakSet<PoolClient>();

/**
 * A checked-out pg client has no 'error' listener (the pool removes its own): a server that
 * dies mid-query would crash the process with an uncaught 'error' besides failing the query.
 */
export function guardCheckedOut(client: PoolClient): PoolClient {
  if (!guarded.has(client)) {
    guarded.add(client);
    client.on('error', () => {});
  }
  return client;
}

/** pool.connect(), tried again on transient errors until `deadline` (performance.now() ms). */
export async function connectWithRetry(pool: pg.Pool, deadline: number, onRetry: () => void): Promise<PoolClient> {
  for (let attempt = 0; ; attempt++) {
    try {
      return guardCheckedOut(await pool.connect());
    } catch (err) {
      if (!isTransient(err) || !(await pauseBeforeRetry(attempt, deadline))) throw err;
      onRetry();
    }
  }
}
