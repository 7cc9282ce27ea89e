import { bigIntToLsn, compareLsn, lsnToBigInt } from '../../domain/lsn.ts';
import { editAutoConf } from '../../postgres/autoConf.ts';
import { isCleanShutdown, type ControlData } from '../../postgres/controlData.ts';
import { delay } from '../../postgres/pgServer.ts';
import { sql } from '../../postgres/pgSql.ts';
import { readServerState, receiverIsFrom, type ServerState } from '../serverState.ts';
import { primaryConninfo } from '../../postgres/standbyConf.ts';
import { peerTarget } from '../../postgres/peerLogin.ts';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canFollow, HISTORY_FILE, parseHistory, timelineOfWal, type HistoryEntry } from '../timelineHistory.ts';
import { dropWriterVip } from '../writerVip.ts';
import type { ActionContext } from './actionTypes.ts';
import type { Answer, FactsOf, Failed, Peer } from './wire.ts';

export const DIVERGED = 'diverged: rewind needed';

export interface PointOptions {
  /** The slot to stream through, created on the upstream if missing; null streams without one. */
  slot: string | null;
  /** Cascading (clone from a standby) points at a standby; follow insists on a primary. */
  allowStandbyUpstream: boolean;
  streamWaitMs: number;
  /**
   * false: answer once the new primary_conninfo is in force and no WAL receiver is connected
   * elsewhere, without waiting for streaming to start. Used to detach a standby from an old
   * primary in the middle of a failover, where every millisecond counts and it is the
   * detachment, not the streaming, that the control plane needs to know.
   */
  awaitStreaming?: boolean;
}

type UpstreamRow = { recovery: boolean; tli: number; lsn: string; sysid: string; newest_history: string | null };

const UPSTREAM_SQL = `
SELECT pg_is_in_recovery() AS recovery,
       CASE WHEN pg_is_in_recovery()
            THEN greatest((SELECT received_tli FROM pg_stat_wal_receiver), (SELECT timeline_id FROM pg_control_checkpoint()))
            ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS tli,
       CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text AS lsn,
       (SELECT system_identifier FROM pg_control_system())::text AS sysid,
       CASE WHEN pg_is_in_recovery() THEN (SELECT name || E'\\n' || pg_read_file('pg_wal/' || name) FROM pg_ls_waldir()
                                            WHERE name ~ '^[0-9A-F]{8}\\.history$' ORDER BY name DESC LIMIT 1) END AS newest_history`;

const historyTli = (name: string): number => parseInt(name.slice(0, 8), 16);

/** This node's newest timeline history file, if any. */
async function newestLocalHistory(dataDir: string): Promise<{ tli: number; history: HistoryEntry[] } | null> {
  try {
    const names = (await readdir(join(dataDir, 'pg_wal'))).filter((n) => HISTORY_FILE.test(n)).sort();
    const name = names.at(-1);
    if (name === undefined) return null;
    return { tli: historyTli(name), history: parseHistory(await readFile(join(dataDir, 'pg_wal', name), 'utf8')) };
  } catch {
    return null;
  }
}

/** What the server logs when its history can't follow the upstream's. */
const DIVERGED_LOG = /forked off current database system timeline|is not in this server's history|is behind recovery timeline|not a child of this server's history/;

/**
 * Make this node a standby streaming from `upstream`: check its WAL can follow the
 * upstream's timeline, create the slot, write standby.signal, primary_conninfo and
 * primary_slot_name (ALTER SYSTEM + reload when running, file edit when stopped), start it
 * if stopped, and wait until it streams. Idempotent: already streaming from there → ok.
 */
export async function pointAtUpstream(ctx: ActionContext, upstream: Peer, opts: PointOptions): Promise<Answer<FactsOf<'follow'>>> {
  const { pg, config, log } = ctx;
  if (upstream.name === config.node || (upstream.host === config.pgHost && upstream.port === config.pgPort)) {
    return { ok: false, reason: `${upstream.name} is this node: a node cannot follow itself` };
  }
  // A node that follows is no writer: it must not answer on the writer address (a rejoining old primary).
  await dropWriterVip(config.vip, log, `following ${upstream.name}`);
  const conninfo = primaryConninfo(upstream, config.node, config.replicationAuth);
  const peer = peerTarget(upstream, config.replicationAuth);
  // Where the time goes, in the log line: in a failover every step is on the clock.
  const t0 = performance.now();
  const phases: Record<string, number> = {};
  const phase = (name: string) => (phases[name] = Math.round(performance.now() - t0));

  // Independent reads at once: in a failover every round trip is on the clock.
  const [upRes, localState, localControl] = await Promise.all([sql<UpstreamRow>(peer, UPSTREAM_SQL, [], 3_000), readServerState(pg), pg.controlData()]);
  if (!upRes.ok) return { ok: false, reason: `upstream ${upstream.name} unreachable: ${upRes.reason}` };
  const up = upRes.rows[0];
  if (!up) return { ok: false, reason: `upstream ${upstream.name} answered no row` };
  if (up.recovery && !opts.allowStandbyUpstream) {
    return { ok: false, reason: `${upstream.name} is not a primary (it is in recovery): promote it before pointing standbys at it` };
  }

  let state = localState;
  if (state.running && !state.answering) return { ok: false, reason: `PostgreSQL here is running but not answering (${state.why}): retry, or fence it first` };
  if (state.running && state.inRecovery && state.primaryConninfo === conninfo && state.primarySlotName === opts.slot && streamsFrom(state, upstream)) {
    return { ok: true, reason: `already streaming from ${upstream.name}`, changed: false, timeline: state.timeline };
  }

  if (state.running && state.inRecovery === false) {
    // An old primary being re-pointed (switchover): it must be shut down cleanly to know where its WAL ends.
    log({ level: 'info', msg: 'stopping the local primary to re-point it', upstream: upstream.name });
    const stopped = await pg.stop('fast', 30);
    if (!stopped.ok) return { ok: false, reason: `could not stop the local primary cleanly: ${stopped.reason}` };
    state = await readServerState(pg);
  }

  // The control file read up front still holds unless the server was just stopped here.
  const cd = state === localState ? localControl : await pg.controlData();
  if ('error' in cd) return { ok: false, reason: cd.error };
  if (cd.systemIdentifier !== up.sysid) {
    return { ok: false, reason: `${upstream.name} belongs to another cluster (system identifier ${up.sysid}, here ${cd.systemIdentifier}): clone this node instead` };
  }

  const walEnd = localWalEnd(state, cd);
  if ('detail' in walEnd) return { ok: false, reason: DIVERGED, detail: walEnd.detail };
  // Both sides' timelines the same way, from their newest history file: the control file
  // still names the old timeline until a restartpoint after a switch, which made a standby
  // look diverged from an upstream on its very timeline.
  const local = state.running && state.inRecovery ? { ...walEnd, tli: timelineOfWal(walEnd.tli, await newestLocalHistory(pg.dataDir), walEnd.end) } : walEnd;
  if (up.recovery && up.newest_history) {
    const [name = '', ...lines] = up.newest_history.split('\n');
    up.tli = timelineOfWal(up.tli, { tli: historyTli(name), history: parseHistory(lines.join('\n')) }, up.lsn);
  }
  if (local.tli !== up.tli) {
    const name = `pg_wal/${up.tli.toString(16).toUpperCase().padStart(8, '0')}.history`;
    const h = await sql<{ history: string }>(peer, 'SELECT pg_read_file($1) AS history', [name], 3_000);
    if (!h.ok) return { ok: false, reason: `cannot read ${name} on ${upstream.name}: ${h.reason}` };
    const verdict = canFollow(local, up.tli, parseHistory(h.rows[0]?.history ?? ''));
    if (!verdict.ok) return { ok: false, reason: DIVERGED, detail: verdict.detail };
  }

  phase('checked');
  // The slot is made on the upstream while this node is configured: both must be done before
  // the reload, or the receiver starts without its slot and waits out wal_retrieve_retry_interval.
  const slotMade = (async (): Promise<string | null> => {
    if (opts.slot === null) return null;
    const slot = await sql(
      peer,
      `SELECT pg_create_physical_replication_slot($1, true)
       WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`,
      [opts.slot],
      5_000,
    );
    // 'already exists': a concurrent follow made it, which is what we want.
    return !slot.ok && !/already exists/.test(slot.reason) ? `creating slot ${opts.slot} on ${upstream.name}: ${slot.reason}` : null;
  })();

  // The control plane has said what this node is now: the fence is lifted.
  await ctx.fence.clear();
  await pg.writeDataFile('standby.signal', '');
  let how: 'reload' | 'restart' | 'start';
  // Only what the server logs after this point can say why it doesn't follow.
  const mark = await pg.logMark();
  if (state.running) {
    const set = async (name: string, value: string | null) =>
      pg.sql(value === null ? `ALTER SYSTEM RESET ${name}` : `ALTER SYSTEM SET ${name} = ${sqlLiteral(value)}`, [], 5_000);
    // Two connections at once: ALTER SYSTEM rewrites postgresql.auto.conf under its own lock.
    const settings = [['primary_conninfo', conninfo], ['primary_slot_name', opts.slot]] as const;
    const results = await Promise.all(settings.map(([name, value]) => set(name, value)));
    for (const [i, r] of results.entries()) if (!r.ok) return { ok: false, reason: `ALTER SYSTEM SET ${settings[i]![0]}: ${r.reason}` };
    const slotFailed = await slotMade;
    if (slotFailed) return { ok: false, reason: slotFailed };
    phase('slot');
    // primary_conninfo and primary_slot_name are reloadable from PostgreSQL 13.
    if ((state.versionNum ?? 0) >= 130000) {
      const r = await pg.sql('SELECT pg_reload_conf()', [], 5_000);
      if (!r.ok) return { ok: false, reason: `reload: ${r.reason}` };
      how = 'reload';
    } else {
      const r = await pg.run('pg_ctl', ['restart', '-w', '-t', '60', '-m', 'fast', '-D', pg.dataDir, '-l', `${pg.dataDir}/postmaster.log`], 70_000);
      if (!r.ok) return { ok: false, reason: `pg_ctl restart: ${r.stderr.trim()}` };
      how = 'restart';
    }
  } else {
    const slotFailed = await slotMade;
    if (slotFailed) return { ok: false, reason: slotFailed };
    const auto = (await pg.readDataFile('postgresql.auto.conf')) ?? '';
    await pg.writeDataFile('postgresql.auto.conf', editAutoConf(auto, { primary_conninfo: conninfo, primary_slot_name: opts.slot }));
    const started = await pg.start();
    if (!started.ok) return (await divergedFromLog(ctx, mark)) ?? { ok: false, reason: started.reason };
    how = 'start';
  }

  phase('configured');
  const deadline = Date.now() + opts.streamWaitMs;
  for (;;) {
    const now = await readServerState(pg);
    const detached = how === 'reload' && now.primaryConninfo === conninfo && (now.receiver === null || receiverIsFrom(now.receiver, upstream));
    if (opts.awaitStreaming === false && detached) {
      phase('detached');
      log({ level: 'info', msg: 're-pointed', upstream: upstream.name, how, phases });
      return { ok: true, reason: `re-pointed at ${upstream.name} (${how}); streaming not awaited`, changed: true, how, timeline: now.timeline };
    }
    // The server says at once when its history can't follow; don't wait out the deadline. Read
    // first: a diverged standby streams its old timeline from the upstream up to the fork
    // point, between its failures (a standby started after a power cut, whose control file
    // understated where its WAL ends, looked like it followed).
    const diverged = await divergedFromLog(ctx, mark);
    if (diverged) return diverged;
    // Streaming on an older timeline than the upstream's is only the way to its switch point.
    const onTimeline = now.receiver?.receivedTli == null || now.receiver.receivedTli >= up.tli;
    if (streamsFrom(now, upstream) && onTimeline) {
      log({ level: 'info', msg: 'streaming', upstream: upstream.name, how });
      return { ok: true, reason: `following ${upstream.name} (${how})`, changed: true, how, timeline: now.timeline };
    }
    if (Date.now() > deadline) {
      return { ok: false, reason: `not streaming from ${upstream.name} within ${opts.streamWaitMs} ms (receiver: ${now.receiver?.status ?? 'none'}): see ${pg.dataDir}/log` };
    }
    // A detach in a failover is on the clock: the reload takes effect within milliseconds.
    await delay(opts.awaitStreaming === false ? 15 : 100);
  }
}

function streamsFrom(state: ServerState, upstream: Peer): boolean {
  return state.receiver?.status === 'streaming' && receiverIsFrom(state.receiver, upstream);
}

/** Where this node's WAL ends and on which timeline, or why that can't be known. */
function localWalEnd(state: ServerState, cd: ControlData): { tli: number; end: string } | { detail: string } {
  if (state.running && state.inRecovery && state.timeline !== null && state.walLsn !== null) {
    return { tli: state.timeline, end: state.walLsn };
  }
  if (cd.state === 'shut down') {
    // The shutdown checkpoint record starts at checkpointLsn: the upstream must hold it whole.
    return { tli: cd.checkpointTimeline, end: bigIntToLsn(lsnToBigInt(cd.checkpointLsn) + 1n) };
  }
  if (isCleanShutdown(cd) || cd.state === 'in archive recovery') {
    const end = compareLsn(cd.minRecoveryEndLsn, cd.checkpointLsn) > 0 ? cd.minRecoveryEndLsn : cd.checkpointLsn;
    return { tli: Math.max(cd.checkpointTimeline, cd.minRecoveryEndTimeline), end };
  }
  return { detail: `not shut down cleanly (${cd.state}): where its WAL ends is unknown` };
}

async function divergedFromLog(ctx: ActionContext, mark: { path: string; size: number }): Promise<Failed | null> {
  const line = (await ctx.pg.logSince(mark)).split('\n').find((l) => DIVERGED_LOG.test(l));
  return line ? { ok: false, reason: DIVERGED, detail: line.trim() } : null;
}

function sqlLiteral(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}
