import type { NodeObservation } from '../domain/observation.ts';
import { failureWindowMs, type TimingSpec } from '../domain/spec.ts';
import { leaseExtraMs } from '../domain/view.ts';

export interface EdgeTriggerOptions {
  heartbeatMs: number;
  readLagLimit: number;
  /** Failure counts past it are no news: the decider only asks whether a node reached it. Default: every count is news. */
  failureThreshold?: number;
  /** Times at which the decider's judgement of this node may change with no change in it (see failureDeadlines). */
  deadlines?: readonly number[];
  /** The spec's lease TTL: a renewal seen more than this after a node went down is news too. */
  leaseTtlMs?: number;
}

/**
 * Whether `next` must be stored: on any change the decider acts on, when one of its time
 * limits on the node passes, and at least every heartbeat. LSN movement and lease renewals
 * alone are not changes (they would cost a write every round), nor is a failure count past
 * the threshold: a node that stays down is written as it goes down, as each limit passes,
 * and then at the heartbeat, not every round.
 */
export function shouldWrite(lastWritten: NodeObservation | null, next: NodeObservation, opts: EdgeTriggerOptions): boolean {
  if (lastWritten === null) return true;
  if (next.at - lastWritten.at >= opts.heartbeatMs) return true;
  if ((opts.deadlines ?? []).some((d) => lastWritten.at < d && d <= next.at)) return true;
  const threshold = opts.failureThreshold ?? Infinity;
  const ttl = opts.leaseTtlMs ?? null;
  return significant(lastWritten, threshold, ttl) !== significant(next, threshold, ttl) || lagBand(lastWritten, opts.readLagLimit) !== lagBand(next, opts.readLagLimit);
}

/**
 * When the decider's time limits on a node that does not answer pass, judged on observed time
 * (the node's observation time, never the clock of a decide run): rule 1's failure window from
 * its first failed probe and from each other node's last WAL receiver change (the cut-off), and
 * fenceWaitMs from its lease's last seen change and from each other node's receiver change (the
 * lease proof and its witness, lib/domain/fencing.ts). Writing the node as each passes wakes
 * decide then, as the write of every round did.
 */
export function failureDeadlines(o: NodeObservation, round: readonly NodeObservation[], timing: TimingSpec): number[] {
  if (o.reachable) return [];
  const receiverChanges = round.filter((r) => r.node !== o.node && r.reachable).map((r) => r.receiverSince ?? r.at);
  const window = failureWindowMs(timing);
  return [
    ...(o.failingSince === null ? [] : [o.failingSince + window]),
    ...receiverChanges.map((since) => since + window),
    ...receiverChanges.map((since) => since + timing.fenceWaitMs),
    // The lease proof waits longer on a lease whose agent stands by a longer TTL (a standby's).
    ...(o.lease ? [o.lease.changedSeenAt + timing.fenceWaitMs + leaseExtraMs(timing.leaseTtlMs, o.lease)] : []),
  ];
}

/** The parts of an observation whose change is news, as one comparable string. */
function significant(o: NodeObservation, failureThreshold: number, leaseTtlMs: number | null): string {
  return JSON.stringify([
    o.reachable,
    o.role,
    o.error?.kind ?? null,
    Math.min(o.consecutiveFailures, failureThreshold),
    o.timeline,
    o.foreign,
    o.systemIdentifier,
    o.walReceiver ? [o.walReceiver.status, o.walReceiver.upstream] : null,
    o.replication.map((r) => [r.name, r.state, r.syncState]).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0)),
    o.synchronousStandbyNames,
    // A new lease holder, term or member list is news; a renewal (version only) is not.
    o.lease ? o.lease.term : null,
    o.lease?.members ?? null,
    // An agent's report of its own stop is news the moment it shows (NodeSelfFenced).
    o.lease?.selfFenced?.at ?? null,
    // The TTL a silent node's agent stands by sets when its lease proves a stop (a standby's is longer).
    !o.reachable ? (o.lease?.ttlMs ?? null) : null,
    // A node that does not answer whose agent renewed since it went down, and more than a TTL after
    // (lib/domain/view.ts agentRenews: a rejoin, or a stopped standby restarted, waits for one of
    // these): the first renewal past each is news.
    !o.reachable && o.lease !== null && o.failingSince !== null
      ? [o.lease.changedSeenAt > o.failingSince, leaseTtlMs !== null && o.lease.changedSeenAt > o.failingSince + leaseTtlMs]
      : null,
  ]);
}

function lagBand(o: NodeObservation, limit: number): 'unknown' | 'within' | 'over' {
  if (o.lagBytes === null) return 'unknown';
  return o.lagBytes > limit ? 'over' : 'within';
}
