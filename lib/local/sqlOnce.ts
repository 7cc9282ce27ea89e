import pg from 'pg';

/** One query on a fresh connection, for bring-up and tests; the probe has its own deadline-guarded client. */
export async function sqlOnce<R extends pg.QueryResultRow = pg.QueryResultRow>(
  port: number,
  text: string,
  values: unknown[] = [],
  opts: { host?: string; database?: string; timeoutMs?: number } = {},
): Promise<R[]> {
  const timeout = opts.timeoutMs ?? 5_000;
  const client = new pg.Client({
    host: opts.host ?? '127.0.0.1',
    port,
    user: 'postgres',
    database: opts.database ?? 'postgres',
    connectionTimeoutMillis: timeout,
    statement_timeout: timeout,
    query_timeout: timeout,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const r = await client.query<R>(text, values);
    return r.rows;
  } finally {
    await client.end().catch(() => {});
  }
}
