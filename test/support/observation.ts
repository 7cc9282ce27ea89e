import type { NodeObservation } from '../../lib/domain/observation.ts';

/**
 * One node as a prober saw it: reachable, role unknown, nothing else known. Tests override
 * what their case is about, so each builder says only what makes its node a primary, a
 * standby or a failing node.
 */
export function observation(node: string, at: number, over: Partial<NodeObservation> = {}): NodeObservation {
  return {
    v: 1,
    cluster: 'main',
    node,
    prober: 'p1',
    at,
    reachable: true,
    error: null,
    consecutiveFailures: 0,
    failingSince: null,
    role: 'unknown',
    systemIdentifier: '7300000000000000001',
    foreign: false,
    timeline: null,
    walLsn: null,
    receiveLsn: null,
    replayLsn: null,
    lagBytes: null,
    lagSeconds: null,
    lastKnownWalLsn: null,
    lastKnownWalAt: null,
    lastKnownTimeline: null,
    walReceiver: null,
    receiverSince: null,
    replication: [],
    synchronousStandbyNames: null,
    lease: null,
    ...over,
  };
}
