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
  const written = await writeSyncNames(pg, expected);
  if (!written.ok) {
    log({ level: 'warn', msg: 'could not set synchronous_standby_names to the spec value', from, to: expected, reason: written.reason });
    return null;
  }
  log({ level: 'info', msg: 'synchronous_standby_names set to the spec value', from, to: expected });
  return { from, to: expected };
}

/**
 * Before a promotion: set the spec's value on this standby (ALTER SYSTEM works in recovery; the
 * promote holds the action lock, so no follow or rewind rewrites postgresql.auto.conf meanwhile)
 * and answer the value in force, read back once the reload took. The node has taken no write yet,
 * so what this answers is the quorum of every commit it acknowledges as primary: the decider can
 * record it with the promotion instead of waiting for a probe to see the new primary, which a
 * crash right after the promotion may never let it do (rule 2 would then refuse for good).
 */
export async function syncNamesBeforePromotion(pg: PgServer, expected: string, log: Log): Promise<string | null> {
  const from = await readSyncNames(pg);
  if (from === null) return null;
  if (from === expected) return from;
  const written = await writeSyncNames(pg, expected);
  if (!written.ok) {
    log({ level: 'warn', msg: 'could not set synchronous_standby_names before the promotion', from, to: expected, reason: written.reason });
    return from;
  }
  // The reload is a signal: each backend (and the checkpointer, which tells walsenders whether
  // any standby is synchronous) rereads the file on its own. Bounded: read until it is in force.
  const deadline = Date.now() + 2_000;
  let now = await readSyncNames(pg);
  while (now !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    now = await readSyncNames(pg);
  }
  log({ level: 'info', msg: 'synchronous_standby_names set before the promotion', from, to: expected, inForce: now });
  return now;
}

/** The setting in force for a new session, or null when PostgreSQL does not answer. */
export async function readSyncNames(pg: PgServer): Promise<string | null> {
  const r = await pg.sql<{ value: string }>("SELECT current_setting('synchronous_standby_names') AS value", [], 1_000);
  return r.ok && r.rows[0] ? r.rows[0].value : null;
}

/** ALTER SYSTEM and a reload. Node names are NodeName-checked; the quote doubling guards the literal all the same. */
async function writeSyncNames(pg: PgServer, value: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  const literal = `'${value.replace(/'/g, "''")}'`;
  const set = await pg.sql(`ALTER SYSTEM SET synchronous_standby_names = ${literal}`, [], 2_000);
  const reload = set.ok ? await pg.sql('SELECT pg_reload_conf()', [], 1_000) : set;
  return reload.ok ? { ok: true } : { ok: false, reason: reload.reason };
}
