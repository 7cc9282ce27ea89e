import type { NodeEvidence } from './events.ts';
import { streamsFrom, type NodeObservation } from './observation.ts';
import { staleAfterMs, type ClusterSpec, type NodeSpec } from './spec.ts';

/** One node as decide sees it this round: its spec and its latest fresh observation, if any. */
export interface NodeView {
  spec: NodeSpec;
  /** null when no prober has confirmed this node recently: the control plane can't see it. */
  obs: NodeObservation | null;
}

/** The latest fresh observation of every node of the spec. Pure: `now` comes from the command. */
export function viewNodes(spec: ClusterSpec, observations: readonly NodeObservation[], now: number): Map<string, NodeView> {
  const latest = new Map<string, NodeObservation>();
  for (const o of observations) {
    if (o.cluster !== spec.cluster) continue;
    const prev = latest.get(o.node);
    if (!prev || o.at > prev.at) latest.set(o.node, o);
  }
  const stale = staleAfterMs(spec.timing);
  const view = new Map<string, NodeView>();
  for (const node of spec.nodes) {
    const o = latest.get(node.name);
    view.set(node.name, { spec: node, obs: o && now - o.at <= stale ? o : null });
  }
  return view;
}

/** Reachable now, from this cluster. */
export const isReachable = (v: NodeView | undefined): boolean => !!v?.obs && v.obs.reachable && !v.obs.foreign;

/** Failed for the whole failure window (rule 1): only fresh evidence counts. */
export function isFailed(v: NodeView | undefined, failureThreshold: number): boolean {
  return !!v?.obs && !v.obs.reachable && v.obs.consecutiveFailures >= failureThreshold;
}

export const isPrimaryNow = (v: NodeView | undefined): boolean => isReachable(v) && v!.obs!.role === 'primary';
export const isStandbyNow = (v: NodeView | undefined): boolean => isReachable(v) && v!.obs!.role === 'standby';

/**
 * Its agent renewed its lease within the lease TTL (its own, as its lease says, when longer:
 * a standby's), and after `since` when given (a renewal from before a node was deposed may be
 * a dead agent's last): the agent runs, whatever its PostgreSQL does. Leases are read from the
 * store, so this holds for unreachable nodes too.
 */
export function agentRenews(v: NodeView | undefined, now: number, leaseTtlMs: number, since = -Infinity): boolean {
  const lease = v?.obs?.lease ?? null;
  return lease !== null && lease.changedSeenAt > since && now - lease.changedSeenAt < leaseTtlMs + leaseExtraMs(leaseTtlMs, lease);
}

/**
 * How much longer than the spec's TTL the lease's agent stands by its last renewal: an agent
 * renews a standby's lease less often and says the longer TTL in it (lib/agent/lease.ts
 * leaseTtlFor). Every wait on a lease's quiet grows by this, so each keeps its margin. Zero
 * when the lease does not say (an older agent: its TTL is then the spec's, by its config).
 */
export function leaseExtraMs(leaseTtlMs: number, lease: { ttlMs?: number | null | undefined }): number {
  return lease.ttlMs == null ? 0 : Math.max(0, lease.ttlMs - leaseTtlMs);
}

/**
 * The newest time at which `o` is known to still hold, by observation: its own time, or a
 * later round of the same prober (`round`, written while its node fails whenever one of the
 * decider's time limits on it passes: lib/probe/edgeTrigger.ts failureDeadlines), since
 * an observation is rewritten whenever it changes (edge-triggered). Never past `now`.
 */
export function observedUntil(o: NodeObservation, round: NodeObservation | null, now: number): number {
  const at = round !== null && round.prober === o.prober ? Math.max(o.at, round.at) : o.at;
  return Math.min(now, at);
}

/** Its host answered the probe with a refused connection: the control plane reaches it, nothing listens. */
export const refusesConnections = (v: NodeView | undefined): boolean => !!v?.obs && !v.obs.foreign && !v.obs.reachable && v.obs.error?.kind === 'refused';

/**
 * Its PostgreSQL is down (connections refused for the failure threshold: the host answers,
 * nothing listens) while its agent runs: a renewal seen more than a TTL after the first failed
 * probe, so the agent outlived its server or came back after it. One seen sooner may be the last
 * renewal of an agent that died with it, read late.
 */
export function serverDownAgentUp(v: NodeView | undefined, failureThreshold: number, leaseTtlMs: number, now: number): boolean {
  if (!refusesConnections(v) || !isFailed(v, failureThreshold)) return false;
  return agentRenews(v, now, leaseTtlMs, (v!.obs!.failingSince ?? now) + leaseTtlMs);
}

/**
 * The prober's time of the newest evidence in the view, never past `now`: spans measured from a
 * prober's timestamps (the failure window) are measured to this, on the prober's clock, so a
 * decider whose clock runs ahead of the prober's does not see them pass early.
 */
export function observedNow(view: Map<string, NodeView>, now: number): number {
  let newest = -Infinity;
  for (const v of view.values()) if (v.obs && v.obs.at > newest) newest = v.obs.at;
  return newest === -Infinity ? now : Math.min(now, newest);
}

/** Reachable standbys that still stream from `primary`: while there is one, the primary is not dead. */
export function standbysStreamingFrom(view: Map<string, NodeView>, primary: string): string[] {
  return [...view.values()].filter((v) => v.spec.name !== primary && v.obs && !v.obs.foreign && streamsFrom(v.obs, primary)).map((v) => v.spec.name);
}

/** What a standby has durably received: the WAL a promotion of it would keep. */
export function receivedLsn(v: NodeView): string | null {
  return v.obs?.receiveLsn ?? v.obs?.replayLsn ?? null;
}

export function evidenceOf(v: NodeView): NodeEvidence {
  const o = v.obs;
  return {
    node: v.spec.name,
    reachable: !!o?.reachable,
    role: o ? o.role : 'unseen',
    error: o?.error ? `${o.error.kind}: ${o.error.message}` : o ? null : 'no fresh observation',
    consecutiveFailures: o?.consecutiveFailures ?? 0,
    receiver: o?.walReceiver ? `${o.walReceiver.status} from ${o.walReceiver.upstream ?? o.walReceiver.senderHost ?? '?'}` : null,
    lsn: o ? (o.walLsn ?? o.receiveLsn ?? o.replayLsn ?? o.lastKnownWalLsn) : null,
  };
}

export function evidence(view: Map<string, NodeView>): NodeEvidence[] {
  return [...view.values()].map(evidenceOf);
}
