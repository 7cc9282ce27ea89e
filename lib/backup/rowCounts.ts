import { sql, type SqlTarget } from '../postgres/pgSql.ts';
import type { RowCounts } from './backupManifest.ts';

/**
 * Exact row counts of every user table in every database that takes connections: the
 * fingerprint a restore is checked against. Counting reads every table: fine for the
 * sizes a verify is run on; `timeoutMs` bounds each count.
 */
export async function countRows(target: SqlTarget, timeoutMs = 60_000): Promise<{ ok: true; counts: RowCounts } | { ok: false; reason: string }> {
  const dbs = await sql<{ datname: string }>(target, 'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname');
  if (!dbs.ok) return dbs;
  const counts: RowCounts = {};
  for (const { datname } of dbs.rows) {
    const at = { ...target, database: datname };
    const tables = await sql<{ name: string; ident: string }>(
      at,
      `SELECT n.nspname || '.' || c.relname AS name, format('%I.%I', n.nspname, c.relname) AS ident
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
        ORDER BY 1`,
    );
    if (!tables.ok) return { ok: false, reason: `listing tables of ${datname}: ${tables.reason}` };
    const perTable: Record<string, number> = {};
    for (const t of tables.rows) {
      // ONLY: a partitioned parent's rows are counted in its partitions, not twice.
      const r = await sql<{ n: string }>(at, `SELECT count(*) AS n FROM ONLY ${t.ident}`, [], timeoutMs);
      if (!r.ok) return { ok: false, reason: `counting ${datname}.${t.name}: ${r.reason}` };
      perTable[t.name] = Number(r.rows[0]?.n ?? 0);
    }
    counts[datname] = perTable;
  }
  return { ok: true, counts };
}
