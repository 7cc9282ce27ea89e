import { lsnDiff, maxLsn } from '../domain/lsn.ts';
import type { NodeObservation } from '../domain/observation.ts';
import type { ClusterSpec } from '../domain/spec.ts';
import { probeNode } from './probeNode.ts';
import type { ProbeContext } from './probeContext.ts';

/**
 * Probes every node of the spec at once; the round lasts at most the probe timeout
 * (each node has its own deadline), so one hung node cannot delay the others.
 */
export async function probeRound(spec: ClusterSpec, ctx: ProbeContext): Promise<NodeObservation[]> {
  const at = ctx.now();
  const observations = await Promise.all(
    spec.nodes.map((node) =>
      probeNode(node, { ...ctx, cluster: spec.cluster, nodes: spec.nodes, timeoutMs: spec.timing.probeTimeoutMs, at }),
    ),
  );
  return withLag(observations);
}

/**
 * A standby's lag in bytes: from its replay LSN to the WAL position of its primary this
 * round (the one it streams from, else the only primary), or, with no primary reachable,
 * the last WAL position any node was seen writing as primary.
 */
export function withLag(observations: NodeObservation[]): NodeObservation[] {
  const primaries = observations.filter((o) => o.reachable && o.role === 'primary' && !o.foreign && o.walLsn !== null);
  const fallback =
    primaries.length === 0
      ? maxLsn(observations.filter((o) => !o.foreign).flatMap((o) => (o.lastKnownWalLsn ? [o.lastKnownWalLsn] : [])))
      : primaries.length === 1
        ? primaries[0]!.walLsn!
        : maxLsn(primaries.map((p) => p.walLsn!));
  return observations.map((o) => {
    if (!o.reachable || o.role !== 'standby' || o.foreign || o.replayLsn === null) return o;
    const upstream = primaries.find((p) => p.node === o.walReceiver?.upstream);
    const reference = upstream?.walLsn ?? fallback;
    return reference ? { ...o, lagBytes: lsnDiff(reference, o.replayLsn) } : o;
  });
}
