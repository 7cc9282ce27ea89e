import type { FenceMethod } from './events.ts';
import type { ClusterSpec } from './spec.ts';
import { isReachable, leaseExtraMs, observedUntil, refusesConnections, standbysStreamingFrom, type NodeView } from './view.ts';
import type { NodeObservation } from './observation.ts';
import { quorumArithmeticHolds, type ReportedSyncNames } from './syncNames.ts';

export type FenceProof = { ok: true; by: Extract<FenceMethod, 'syncQuorum' | 'lease'>; reason: string } | { ok: false; reason: string };

/**
 * Rule 3, the conditions decide can prove from observations alone (the third, an agent
 * confirming PostgreSQL is stopped, arrives as an action result).
 */
export function proveFenced(spec: ClusterSpec, view: Map<string, NodeView>, syncSet: readonly string[], from: string, now: number, reported: ReportedSyncNames | null): FenceProof {
  const streaming = standbysStreamingFrom(view, from);
  if (streaming.length > 0) return { ok: false, reason: `${streaming.join(', ')} still stream from ${from}` };

  const why: string[] = [];
  const arithmetic = spec.replication.mode === 'synchronous' ? quorumArithmeticHolds(spec, reported, from) : null;
  if (arithmetic && !arithmetic.ok) why.push(arithmetic.reason);
  else if (spec.replication.mode === 'synchronous') {
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

  const lease = proveFencedByLease(spec, view, from, now);
  if (lease.ok) return lease;
  why.push(lease.reason);
  return { ok: false, reason: why.join('; ') };
}

/**
 * The lease proof: one side of rule 3's invariant (ARCHITECTURE.md). *Whenever the decider
 * counts a primary as fenced by its lease, that primary's agent has stopped it, whatever the
 * control plane could not see.* The other side is the agent's self-fence (lib/agent/lease.ts):
 * past a lapsed lease it keeps PostgreSQL serving only while every standby of the spec has
 * streamed from it (replied) within the lease TTL. So the proof needs, each over time that
 * observations cover (never extrapolated past the newest one):
 *  - the node does not answer: an answering node's agent may be dead while it serves;
 *  - its lease unchanged for fenceWaitMs (TTL plus margin), and renewing within one TTL of
 *    the node going silent (a dead agent's lease also stops moving); both longer by however
 *    much the agent's TTL, as its lease states it, exceeds the spec's (leaseExtraMs: a
 *    standby renews less often and its renewals stand by a longer TTL, ARCHITECTURE "Lease cadence");
 *  - a witness: a spec member seen, fresh, whose receiver has been off the node for
 *    fenceWaitMs (a standby streaming from no one or another node, or a host that refuses
 *    connections: no PostgreSQL there), and that the agent counts (its lease names it among
 *    the members it learned). The agent saw that standby stop replying, so its self-fence has fired.
 */
export function proveFencedByLease(spec: ClusterSpec, view: Map<string, NodeView>, from: string, now: number): FenceProof {
  const obs = view.get(from)?.obs ?? null;
  const lease = obs?.lease ?? null;
  const wait = spec.timing.fenceWaitMs;
  if (obs === null) return { ok: false, reason: `${from} has no fresh observation, so its lease can't be judged` };
  if (obs.reachable && !obs.foreign) {
    return { ok: false, reason: `${from} answers as ${obs.role}: a lease proves nothing while its node answers (its agent may be dead while PostgreSQL serves); its agent must confirm the stop` };
  }
  if (lease === null) return { ok: false, reason: `no lease of ${from} has been seen (or it could not be read): its lease is unknown` };
  // A lease proves a stop only if its agent was alive to enforce it: a dead agent's lease
  // also stops moving, while its PostgreSQL may still serve. So the lease must have been
  // renewing within one TTL (its agent's, as its lease says) of the node going silent.
  const extra = leaseExtraMs(spec.timing.leaseTtlMs, lease);
  const silentSince = obs.failingSince;
  if (silentSince !== null && lease.changedSeenAt < silentSince - spec.timing.leaseTtlMs - extra) {
    return { ok: false, reason: `${from}'s agent stopped renewing its lease before the node went silent, so nothing enforces the lease: its agent must confirm the stop` };
  }
  // Quiet only over observed time: from when the lease was seen changing to the last round that saw it.
  const until = Math.min(now, obs.at);
  const quiet = until - lease.changedSeenAt;
  // The agent's own TTL, not the spec's: one that self-fences later (a standby's renewal, or an
  // agent configured with a longer TTL) is waited for that much longer, so the margin
  // fenceWaitMs − leaseTtlMs holds over its TTL as over the spec's.
  if (quiet < wait + extra) {
    const longer = extra > 0 ? ` (fenceWaitMs ${wait} plus ${extra}: its agent's TTL is ${lease.ttlMs} ms, the spec's ${spec.timing.leaseTtlMs})` : '';
    return { ok: false, reason: `${from}'s lease was seen unchanged for ${quiet} ms up to the last observation (${now - obs.at} ms ago); it counts as lapsed after ${wait + extra} ms${longer}` };
  }
  if (lease.ttlMs === undefined || lease.ttlMs === null) {
    return { ok: false, reason: `${from}'s lease does not say its agent's TTL (an agent older than this control plane), so its self-fence can't be timed: its agent must confirm the stop` };
  }
  const counted = lease.members ?? null;
  if (counted === null) return { ok: false, reason: `${from}'s lease names no standbys its agent counts (it has not learned the spec's members), so a lapse may not stop it: its agent must confirm the stop` };
  const witness = leaseWitness(spec, view, from, obs, now, counted);
  if (!witness.ok) return witness;
  return {
    ok: true,
    by: 'lease',
    reason: `${from}'s lease was seen unchanged for ${quiet} ms (≥ fenceWaitMs ${wait}${extra > 0 ? ` + ${extra}` : ''}, lease TTL ${lease.ttlMs}) and ${witness.node} has been off it for ${witness.quiet} ms: its agent has stopped PostgreSQL or the host is gone`,
  };
}

/**
 * A spec standby seen fresh whose WAL receiver has been off `from` (no receiver, not
 * streaming, or streaming from another named node) for fenceWaitMs of observed time.
 */
function leaseWitness(spec: ClusterSpec, view: Map<string, NodeView>, from: string, fromObs: NodeObservation, now: number, counted: readonly string[]): { ok: true; node: string; quiet: number } | { ok: false; reason: string } {
  const wait = spec.timing.fenceWaitMs;
  let best: { node: string; quiet: number } | null = null;
  for (const v of view.values()) {
    const o = v.obs;
    // Only a standby the agent counts (named in its lease): a member added since it last read the spec is not.
    if (v.spec.name === from || !counted.includes(v.spec.name) || !o) continue;
    let offSince: number;
    if (isReachable(v) && o.role === 'standby') {
      const r = o.walReceiver;
      const off = r === null || r.status !== 'streaming' || (r.upstream !== null && r.upstream !== from);
      if (!off) continue;
      offSince = o.receiverSince ?? o.at;
    } else if (refusesConnections(v)) {
      // Its host answers and nothing listens: no PostgreSQL runs there, so no receiver streams
      // from `from` (a standby whose host power-cycled during the failover, its agent back
      // first). Off since the first refused probe at least, whatever it did before.
      offSince = o.failingSince ?? o.at;
    } else continue;
    const quiet = observedUntil(o, fromObs, now) - offSince;
    if (best === null || quiet > best.quiet) best = { node: v.spec.name, quiet };
  }
  if (best !== null && best.quiet >= wait) return { ok: true, ...best };
  return {
    ok: false,
    reason:
      best === null
        ? `no standby in sight that ${from}'s agent counts (${counted.join(', ') || 'none'}) is off it: one out of sight may still stream from it, and its agent keeps serving while every one does`
        : `${best.node} has been off ${from} for ${best.quiet} ms only; ${from}'s agent counts it as gone after its lease TTL, so it counts after ${wait} ms`,
  };
}
