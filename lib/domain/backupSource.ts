import { lsnDiff } from './lsn.ts';
import type { NodeSpec } from './spec.ts';
import { isDeposed, type ClusterState } from './state.ts';
import { isStandbyNow, type NodeView } from './view.ts';

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
  if (isDeposed(state, name)) return 'a former primary not yet rewound';
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
  if (state.failover) {
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
