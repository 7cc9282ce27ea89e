import pg from 'pg';

/** One admin command's outcome. `reason` never carries the password. */
export type ConsoleResult = { ok: true; ms: number } | { ok: false; ms: number; reason: string; timedOut: boolean };

/** What the console answers when RESUME finds nothing paused: not a failure for pgvigil. */
const NOT_PAUSED = /not paused|not suspended/i;

export type ConsoleCommand = 'PAUSE' | 'RESUME' | 'RELOAD';

/** Where a console is, for messages: host:port only (the URL may name a user; never a password, the spec refuses one). */
export function consoleName(admin: string): string {
  const u = new URL(admin);
  return `pgbouncer ${u.hostname}:${u.port}`;
}

/**
 * Runs one command on a PgBouncer admin console (simple query protocol, which is all the
 * console speaks: node-postgres uses it for a query without parameters), on its own
 * connection, within `timeoutMs` (its login within `connectTimeoutMs`: a PgBouncer that does not
 * answer at all is given up on sooner than a PAUSE that waits for transactions). A timed-out command is left to PgBouncer: a PAUSE that has
 * not returned has still put the pool in pause mode (its doc: the command returns once every
 * server connection is released), so a later RESUME ends it.
 */
export async function consoleCommand(admin: string, password: string | undefined, command: ConsoleCommand, timeoutMs: number, connectTimeoutMs = timeoutMs): Promise<ConsoleResult> {
  const started = Date.now();
  const u = new URL(admin);
  const client = new pg.Client({
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username) || 'pgbouncer',
    database: 'pgbouncer',
    ...(password !== undefined ? { password } : {}),
    connectionTimeoutMillis: connectTimeoutMs,
  });
  // A console that goes away must fail this call, not the process.
  client.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const run = (async () => {
    await client.connect();
    await client.query(`${command};`);
    return 'done' as const;
  })();
  try {
    const outcome = await Promise.race([run, deadline]);
    if (outcome === 'timeout') return { ok: false, ms: Date.now() - started, reason: `${command} did not answer within ${timeoutMs} ms`, timedOut: true };
    return { ok: true, ms: Date.now() - started };
  } catch (e) {
    const message = (e as Error).message;
    if (command === 'RESUME' && NOT_PAUSED.test(message)) return { ok: true, ms: Date.now() - started };
    return { ok: false, ms: Date.now() - started, reason: `${command}: ${message}`, timedOut: false };
  } finally {
    clearTimeout(timer);
    run.catch(() => {});
    // end() waits for a pending query; a timed-out PAUSE must not hold us, so the socket goes at once.
    const socket = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
    socket?.destroy();
    void client.end().catch(() => {});
  }
}
