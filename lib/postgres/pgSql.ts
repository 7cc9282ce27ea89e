import pg from 'pg';

export type SqlResult<R> = { ok: true; rows: R[] } | { ok: false; reason: string };

export interface SqlTarget {
  host: string;
  port: number;
  /** Default postgres. */
  database?: string | undefined;
  /** Default pgvigil-agent. */
  applicationName?: string;
  /** Another login than the superuser's (peerLogin: the replication role on a peer, over TLS). Never logged. */
  login?: { user: string; password: string; ssl: pg.ClientConfig['ssl'] };
}

/**
 * One statement on a fresh connection as postgres, errors as values (`sqlOnce` throws instead). The deadline covers
 * connect, query and close: a server frozen mid-answer can't hold an action hostage.
 */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
  target: SqlTarget,
  text: string,
  values: unknown[] = [],
  timeoutMs = 3_000,
): Promise<SqlResult<R>> {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.login?.user ?? 'postgres',
    password: target.login?.password,
    ssl: target.login?.ssl ?? false,
    database: target.database ?? 'postgres',
    application_name: target.applicationName ?? 'pgvigil-agent',
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs,
  });
  client.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<SqlResult<R>>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `no answer from ${target.host}:${target.port} within ${timeoutMs} ms` }), timeoutMs + 500);
  });
  const work = (async (): Promise<SqlResult<R>> => {
    try {
      await client.connect();
      const r = await client.query<R>(text, values);
      return { ok: true, rows: r.rows };
    } catch (e) {
      return { ok: false, reason: `${target.host}:${target.port}: ${(e as Error).message}` };
    }
  })();
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    // Don't wait for a polite close from a server that may be frozen.
    void client.end().catch(() => {});
  }
}
