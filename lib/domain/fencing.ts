import type { FenceMethod } from './events.ts';
import type { ClusterSpec } from './spec.ts';
import { isReachable, standbysStreamingFrom, type NodeView } from './view.ts';

export type FenceProof = { ok: true; by: Extract<FenceMethod, 'syncQuorum' | 'lease'>; reason: string } | { ok: false; reason: string };

/**
 * Rule 3, the conditions decide can prove from observations alone (the third, an agent
 * confirming PostgreSQL is stopped, arrives as an action result).
 */
export function proveFenced(spec: ClusterSpec, view: Map<string, NodeView>, syncSet: readonly string[], from: string, now: number): FenceProof {
  const streaming = standbysStreamingFrom(view, from);
  if (streaming.length > 0) return { ok: false, reason: `${streaming.join(', ')} still stream from ${from}` };

  const why: string[] = [];
  if (spec.replication.mode === 'synchronous') {
    const members = new Set([...spec.nodes.filter((n) => n.name !== from && !n.tags.nosync).map((n) => n.name), ...syncSet.filter((n) => n !== from)]);
    const unseen = [...members].filter((n) => !isReachable(view.get(n)));
    if (members.size > 0 && unseen.length === 0) {
      return {
        ok: true,
        by: 'syncQuorum',
        reason: `every synchronous standby (${[...members].join(', ')}) is reachable and none receives WAL from ${from}: no commit quorum is left to it`,
      };
    }
    why.push(members.size === 0 ? 'no synchronous standby is configured' : `synchronous standby ${unseen.join(', ')} can't be seen, so ${from} may still hold a commit quorum`);
  }

  const obs = view.get(from)?.obs ?? null;
  const lease = obs?.lease ?? null;
  // A lease proves a stop only if its agent was alive to enforce it: a dead agent's lease
  // also stops moving, while its PostgreSQL may still serve. So the lease must have been
  // renewing within one TTL of the node going silent.
  const silentSince = obs?.failingSince ?? null;
  if (lease === null) {
    why.push(`no lease of ${from} has been seen`);
  } else if (silentSince !== null && lease.changedSeenAt < silentSince - spec.timing.leaseTtlMs) {
    why.push(`${from}'s agent stopped renewing its lease before the node went silent, so nothing enforces the lease: its agent must confirm the stop`);
  } else {
    const quiet = now - lease.changedSeenAt;
    if (quiet >= spec.timing.fenceWaitMs) {
      return {
        ok: true,
        by: 'lease',
        reason: `${from}'s lease has not changed for ${quiet} ms (≥ fenceWaitMs ${spec.timing.fenceWaitMs}, lease TTL ${spec.timing.leaseTtlMs}): its agent has stopped PostgreSQL or the host is gone`,
      };
    }
    why.push(`${from}'s lease changed ${quiet} ms ago; it expires for the control plane after ${spec.timing.fenceWaitMs} ms`);
  }
  return { ok: false, reason: why.join('; ') };
}
