import type { NodeObservation } from '../domain/observation.ts';
import { failureWindowMs, type ClusterSpec } from '../domain/spec.ts';
import type { ClusterState } from '../domain/state.ts';
import { failureDeadlines } from './edgeTrigger.ts';

/**
 * Why a probe that runs only when woken must go on probing after this round, or null when the
 * cluster is settled: every node is what the log says it is (the primary answers as primary,
 * every other node as a standby streaming from it), or is a node the log has declared down whose
 * every time limit (lib/probe/edgeTrigger.ts failureDeadlines) has passed; and the log has no
 * failover, unanswered intent, deposed primary or blindness in progress. A node down for good is
 * settled once decide has recorded it, so a lasting fault does not keep the probe running all month.
 * Pure: the round's observations and the state the probe last loaded.
 */
export function unsettledBy(spec: ClusterSpec, state: ClusterState | null, round: readonly NodeObservation[]): string | null {
  if (state === null || state.spec === null) return 'the log is not read yet';
  if (state.failover !== null) return `a failover (term ${state.failover.term}) is in progress`;
  if (state.pending.length > 0) return `${state.pending.length} intent(s) wait for an answer`;
  if (Object.keys(state.deposed).length > 0) return `${Object.keys(state.deposed).join(', ')} deposed and not yet rewound`;
  if (state.blind) return 'the log says the control plane is blind';
  for (const node of spec.nodes) {
    const o = round.find((r) => r.node === node.name);
    if (!o) return `${node.name} was not probed`;
    if (!o.reachable || o.foreign) {
      if (!state.down.includes(node.name)) return `${node.name} does not answer and the log has not declared it down`;
      const due = failureDeadlines(o, round, spec.timing).filter((d) => d > o.at);
      if (due.length > 0) return `${node.name} is down with a time limit still to pass`;
      continue;
    }
    if (state.down.includes(node.name)) return `${node.name} answers again and the log still has it down`;
    if (node.name === state.primary) {
      if (o.role !== 'primary') return `${node.name}, the primary, answers as ${o.role}`;
    } else if (o.role !== 'standby' || o.walReceiver?.status !== 'streaming' || (state.primary !== null && o.walReceiver.upstream !== state.primary)) {
      return `${node.name} is not a standby streaming from ${state.primary ?? 'a primary'}`;
    }
  }
  return null;
}

/** How long a cluster must stay settled before a run that probes until settled ends: decide's follow-ups to a change are seen first. */
export const settleQuietMs = (spec: ClusterSpec): number => Math.max(1_000, 2 * failureWindowMs(spec.timing));

/**
 * One cluster's run until settled, round by round: the Lambda probe's (lib/control/probeLoop.ts)
 * and local mode's on-wake loop (lib/local/controlLoop.ts) judge it alike.
 */
export class SettleWatch {
  /** When a round was last unsettled; never, at first: a settled first round ends the run. */
  private unsettledAt = -Infinity;

  /** Judges the round that started `at`: why it is unsettled (null: it is not), and whether the cluster has been settled for its quiet time. */
  round(spec: ClusterSpec, state: ClusterState | null, observations: readonly NodeObservation[], storeError: string | null, at: number): { why: string | null; settled: boolean } {
    const why = storeError !== null ? `the store: ${storeError}` : unsettledBy(spec, state, observations);
    if (why !== null) this.unsettledAt = at;
    return { why, settled: at - this.unsettledAt >= settleQuietMs(spec) };
  }
}
