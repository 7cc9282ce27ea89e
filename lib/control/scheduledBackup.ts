import { callAgent } from '../agent/agentClient.ts';
import type { SnsAlert, PublishResult } from '../alerts/snsPublisher.ts';
import { lsnDiff } from '../domain/lsn.ts';
import type { NodeSpec } from '../domain/spec.ts';
import type { ClusterState } from '../domain/state.ts';
import { isStandbyNow, viewNodes, type NodeView } from '../domain/view.ts';
import { loadState } from '../store/loadState.ts';
import { latestObservations } from '../store/observations.ts';
import { OBSERVATION_WINDOW_MS } from './commitCommand.ts';
import type { ControlPlane } from './controlPlane.ts';

export type BackupChoice = { ok: true; node: NodeSpec; why: string } | { ok: false; reason: string };

/** Bytes behind the primary: the probe's figure, else the primary's WAL position less the standby's replay. */
function lagOf(v: NodeView, primary: NodeView | undefined): number | null {
  const o = v.obs;
  if (!o) return null;
  if (o.lagBytes !== null) return o.lagBytes;
  const at = primary?.obs?.walLsn;
  return at && o.replayLsn ? lsnDiff(at, o.replayLsn) : null;
}

/** Why a node can't be backed up now, or null when it is a healthy streaming standby. */
function unfit(state: ClusterState, v: NodeView): string | null {
  const name = v.spec.name;
  if (name === state.primary) return 'the primary (backups come from a standby, so the primary serves no base backup)';
  if (state.down.includes(name)) return 'declared down';
  if (state.deposed.includes(name)) return 'a former primary not yet rewound';
  if (!v.obs) return 'no fresh observation';
  if (!isStandbyNow(v)) return v.obs.reachable ? `seen as ${v.obs.role}` : 'unreachable';
  const receiver = v.obs.walReceiver?.status ?? 'not running';
  return receiver === 'streaming' ? null : `its WAL receiver is ${receiver}`;
}

/**
 * The standby a scheduled backup is taken from, by the latest observations alone (the
 * control plane may not reach PostgreSQL itself): a reachable standby whose WAL receiver
 * streams, not declared down, lagging or deposed; the least lag wins, then spec order.
 * Pure: `view` comes from viewNodes with the command's `now`.
 */
export function chooseBackupStandby(state: ClusterState, view: Map<string, NodeView>): BackupChoice {
  if (!state.spec) return { ok: false, reason: `cluster ${state.cluster} is not initialized yet: no backup until its first decide run` };
  if (state.failover && state.failover.step !== 'done') {
    return { ok: false, reason: `a ${state.failover.kind} ${state.failover.from} → ${state.failover.to} is in progress: no backup now, the next scheduled one will run` };
  }
  if (!state.primary) return { ok: false, reason: `cluster ${state.cluster} has no primary in the decision log: no standby streams from one` };
  const primary = view.get(state.primary);
  const ruledOut: string[] = [];
  const fit: Array<{ v: NodeView; lag: number | null; lagging: boolean }> = [];
  for (const node of state.spec.nodes) {
    const v = view.get(node.name);
    const why = v ? unfit(state, v) : 'not in the view';
    if (why) ruledOut.push(`${node.name}: ${why}`);
    else fit.push({ v: v!, lag: lagOf(v!, primary), lagging: state.lagging.includes(node.name) });
  }
  if (fit.length === 0) return { ok: false, reason: `no healthy streaming standby to back up (${ruledOut.join('; ')})` };
  // Beyond the read lag limit only as a last resort; unknown lag after any known one.
  const rank = (f: (typeof fit)[number]) => [f.lagging ? 1 : 0, f.lag === null ? 1 : 0, f.lag ?? 0] as const;
  const best = fit
    .map((f, i) => ({ f, i }))
    .sort((a, b) => {
      const ra = rank(a.f);
      const rb = rank(b.f);
      return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2] || a.i - b.i;
    })[0]!.f;
  const lag = best.lag === null ? 'lag unknown' : `${best.lag} bytes behind`;
  const others = fit.length > 1 ? ` (least lag of ${fit.length} streaming standbys)` : '';
  return { ok: true, node: best.v.spec, why: `${best.v.spec.name} streams from ${state.primary}, ${lag}${best.lagging ? ', beyond the read lag limit' : ''}${others}` };
}

export type ScheduledBackupOutcome =
  | { ok: true; cluster: string; node: string; backupId: string; reason: string }
  /** unconfirmed: the agent did not answer in time; a backup it started keeps running. */
  | { ok: false; cluster: string; node: string | null; reason: string; unconfirmed: boolean };

export interface ScheduledBackupDeps {
  /** ms before the invocation is cut off (Lambda's getRemainingTimeInMillis). */
  remainingMs?: () => number;
  /** The alert topic; absent: failures are only logged. */
  alert?: (alert: SnsAlert) => Promise<PublishResult>;
}

/** Leave this much of the invocation for logging and the alert after the agent call gives up. */
const REPLY_MARGIN_MS = 5_000;
/** Without a Lambda context (local runs): wait this long for the agent. */
const DEFAULT_WAIT_MS = 10 * 60_000;

/**
 * The scheduled backup of one cluster: choose a standby from the decision log and the latest
 * observations, and ask its agent for a base backup into the archive. Waits for the answer
 * until just before the invocation ends; the agent finishes a backup whether or not anyone
 * still waits for it. Outcomes are logged; failures also go to the alert topic when given.
 */
export async function runScheduledBackup(cp: ControlPlane, cluster: string, deps: ScheduledBackupDeps = {}): Promise<ScheduledBackupOutcome> {
  const outcome = await attempt(cp, cluster, deps);
  if (outcome.ok) {
    cp.log({ level: 'info', msg: 'scheduled backup taken', cluster, node: outcome.node, backupId: outcome.backupId });
    return outcome;
  }
  cp.log({ level: outcome.unconfirmed ? 'warn' : 'error', msg: outcome.unconfirmed ? 'scheduled backup unconfirmed' : 'scheduled backup failed', cluster, node: outcome.node, reason: outcome.reason });
  if (deps.alert) {
    const what = outcome.unconfirmed ? `scheduled backup on ${outcome.node} not confirmed in time` : 'scheduled backup failed';
    const sent = await deps.alert({
      subject: `[pgvigil ${outcome.unconfirmed ? 'INFO' : 'WARNING'}] ${cluster}: ${what}`,
      body: [`${what}.`, '', `Cluster:  ${cluster}`, `Node:     ${outcome.node ?? 'none chosen'}`, `Reason:   ${outcome.reason}`, '', 'Look further: pgvigil backups --archive s3://<ArchiveBucketName>/'].join('\n'),
      attributes: { cluster, severity: outcome.unconfirmed ? 'info' : 'warning', event: 'ScheduledBackup' },
    });
    if (!sent.ok) cp.log({ level: 'error', msg: 'alert not published', cluster, reason: sent.reason });
  }
  return outcome;
}

async function attempt(cp: ControlPlane, cluster: string, deps: ScheduledBackupDeps): Promise<ScheduledBackupOutcome> {
  const fail = (reason: string, node: string | null = null): ScheduledBackupOutcome => ({ ok: false, cluster, node, reason, unconfirmed: false });
  const loaded = await loadState(cp.store, cluster);
  if (!loaded.ok) return fail(loaded.reason);
  const now = cp.clock();
  const read = await latestObservations(cp.store, cluster, now - OBSERVATION_WINDOW_MS);
  if (!read.ok) return fail(`observations of ${cluster} can't be read: ${read.reason}`);
  const spec = loaded.state.spec;
  const choice = chooseBackupStandby(loaded.state, spec ? viewNodes(spec, read.observations, now) : new Map());
  if (!choice.ok) return fail(choice.reason);
  const node = choice.node.name;
  cp.log({ level: 'info', msg: 'scheduled backup', cluster, node, why: choice.why });

  const timeoutMs = deps.remainingMs ? Math.max(1_000, deps.remainingMs() - REPLY_MARGIN_MS) : DEFAULT_WAIT_MS;
  const r = await callAgent(choice.node.agent, cp.agentKey, 'backup', {}, { timeoutMs });
  if (r.ok && typeof r['id'] === 'string') return { ok: true, cluster, node, backupId: r['id'], reason: `${r.reason} (${choice.why})` };
  if (r.ok) return fail(`${node}'s agent answered ok without a backup id: ${r.reason}`, node);
  if (/no answer within/.test(r.reason)) {
    return {
      ok: false,
      cluster,
      node,
      unconfirmed: true,
      reason: `${r.reason}: a backup the agent started keeps running after the caller leaves; pgvigil backups shows it once complete`,
    };
  }
  return fail(`${node}: ${r.reason}`, node);
}
