import type { PgServer } from '../postgres/pgServer.ts';
import type { Log } from '../log.ts';

/**
 * Keeps this node's `synchronous_standby_names` at the spec's value (issue 12, path 2): the
 * quorum the decider reasons about is then the one PostgreSQL enforces, on hosts set up by
 * local mode, by the CDK user data or by hand alike. Written with ALTER SYSTEM (it wins over
 * every included file), on the primary only.
 * Answers what changed, or null when nothing did or PostgreSQL does not answer.
 */
export async function keepSyncNames(pg: PgServer, expected: string, log: Log): Promise<{ from: string; to: string } | null> {
  const cur = await pg.sql<{ value: string; recovery: boolean }>("SELECT current_setting('synchronous_standby_names') AS value, pg_is_in_recovery() AS recovery", [], 1_000);
  if (!cur.ok || cur.rows[0] === undefined) return null;
  // Primaries only: on a standby postgresql.auto.conf also holds primary_conninfo, which the
  // follow, rewind and clone actions and local mode write; a promoted node is set at its next read.
  if (cur.rows[0].recovery) return null;
  const from = cur.rows[0].value;
  if (from === expected) return null;
  // Node names are NodeName-checked; the quote doubling guards the literal all the same.
  const literal = `'${expected.replace(/'/g, "''")}'`;
  const set = await pg.sql(`ALTER SYSTEM SET synchronous_standby_names = ${literal}`, [], 2_000);
  const reload = set.ok ? await pg.sql('SELECT pg_reload_conf()', [], 1_000) : set;
  if (!reload.ok) {
    log({ level: 'warn', msg: 'could not set synchronous_standby_names to the spec value', from, to: expected, reason: reload.reason });
    return null;
  }
  log({ level: 'info', msg: 'synchronous_standby_names set to the spec value', from, to: expected });
  return { from, to: expected };
}
