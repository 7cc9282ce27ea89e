import type pg from 'pg';
import { sql } from './pgSql.ts';

/** One query on a fresh connection that throws on failure, for bring-up, the CLI and tests (`sql` returns errors as values). */
export async function sqlOnce<R extends pg.QueryResultRow = pg.QueryResultRow>(
  port: number,
  text: string,
  values: unknown[] = [],
  opts: { host?: string; database?: string; timeoutMs?: number } = {},
): Promise<R[]> {
  const r = await sql<R>({ host: opts.host ?? '127.0.0.1', port, database: opts.database, applicationName: 'pgvigil' }, text, values, opts.timeoutMs ?? 5_000);
  if (!r.ok) throw new Error(r.reason);
  return r.rows;
}
