import type { NodeObservation } from '../domain/observation.ts';

export interface EdgeTriggerOptions {
  heartbeatMs: number;
  readLagLimit: number;
}

/**
 * Whether `next` must be stored: on any change the decider acts on, and at least every
 * heartbeat. LSN movement and lease renewals alone are not changes (they would cost a
 * write every round); a failing node is written every round, since its failure count moves.
 */
export function shouldWrite(lastWritten: NodeObservation | null, next: NodeObservation, opts: EdgeTriggerOptions): boolean {
  if (lastWritten === null) return true;
  if (next.at - lastWritten.at >= opts.heartbeatMs) return true;
  return significant(lastWritten) !== significant(next) || lagBand(lastWritten, opts.readLagLimit) !== lagBand(next, opts.readLagLimit);
}

/** The parts of an observation whose change is news, as one comparable string. */
function significant(o: NodeObservation): string {
  return JSON.stringify([
    o.reachable,
    o.role,
    o.error?.kind ?? null,
    o.consecutiveFailures,
    o.timeline,
    o.foreign,
    o.systemIdentifier,
    o.walReceiver ? [o.walReceiver.status, o.walReceiver.upstream] : null,
    o.replication.map((r) => [r.name, r.state, r.syncState]).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0)),
    o.synchronousStandbyNames,
    // A new lease holder, term or member list is news; a renewal (version only) is not.
    o.lease ? o.lease.term : null,
    o.lease?.members ?? null,
  ]);
}

function lagBand(o: NodeObservation, limit: number): 'unknown' | 'within' | 'over' {
  if (o.lagBytes === null) return 'unknown';
  return o.lagBytes > limit ? 'over' : 'within';
}
