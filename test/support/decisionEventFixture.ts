import fc from 'fast-check';
import { DecisionEvent, intentId, type Intent, type NodeEvidence } from '../../lib/domain/events.ts';
import { ClusterSpec, NodeSpec } from '../../lib/domain/spec.ts';

/** Realistic decision events for store tests, each checked against the shared schema. */
export const NODES = ['alpha', 'beta', 'gamma'] as const;

export function spec(cluster: string): ClusterSpec {
  return ClusterSpec.parse({
    cluster,
    nodes: NODES.map((name, i) => ({ name, host: '127.0.0.1', port: 5432 + i, agent: `http://127.0.0.1:${8008 + i}` })),
  });
}

export function evidence(node: string, reachable: boolean): NodeEvidence {
  return { node, reachable, role: reachable ? 'standby' : 'unknown', error: reachable ? null : 'connection refused', consecutiveFailures: reachable ? 0 : 3, receiver: null, lsn: '0/3000148' };
}

const base = (at: number, term: number, reason: string) => ({ v: 1 as const, at, term, reason });

export const ev = {
  initialized: (cluster: string, at = 1): DecisionEvent => DecisionEvent.parse({ ...base(at, 1, 'cluster registered by operator'), type: 'ClusterInitialized', spec: spec(cluster), primary: 'alpha' }),
  paused: (at: number, reason: string): DecisionEvent => DecisionEvent.parse({ ...base(at, 1, reason), type: 'Paused' }),
  resumed: (at: number, reason: string): DecisionEvent => DecisionEvent.parse({ ...base(at, 1, reason), type: 'Resumed' }),
  nodeDown: (at: number, node: string, reason: string): DecisionEvent => DecisionEvent.parse({ ...base(at, 1, reason), type: 'NodeDown', node, evidence: evidence(node, false) }),
};

const node = fc.constantFrom(...NODES);
const term = fc.integer({ min: 1, max: 5 });
const at = fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 });
const action = fc.constantFrom('fence', 'demote', 'promote', 'follow', 'rewind', 'endpoints' as const);
const intent = fc.record({ action, node, term, primary: fc.option(node, { nil: null }), readers: fc.option(fc.subarray([...NODES]), { nil: null }) }).map(
  (i): Intent => ({ id: intentId(i.term, i.action, i.node), action: i.action, node: i.node, term: i.term, primary: i.primary, minLsn: null, readers: i.readers }),
);

/** Any decision event but ClusterInitialized, which a log holds once, first. */
export const decisionEventArb: fc.Arbitrary<DecisionEvent> = fc
  .record({ at, term, node, other: node, intent, kind: fc.constantFrom('failover', 'switchover', 'manual' as const), members: fc.subarray([...NODES]), pick: fc.integer({ min: 0, max: 20 }) })
  .map(({ at, term, node, other, intent, kind, members, pick }) => {
    const b = base(at, term, `generated ${pick}`);
    const candidates: unknown[] = [
      { ...b, type: 'NodeDown', node, evidence: evidence(node, false) },
      { ...b, type: 'NodeUp', node, evidence: evidence(node, true) },
      { ...b, type: 'LagExceeded', node, lagBytes: 20_000_000 },
      { ...b, type: 'LagRecovered', node, lagBytes: 0 },
      { ...b, type: 'SyncSetChanged', members },
      { ...b, type: 'ControlPlaneBlind', evidence: [evidence(node, false)] },
      { ...b, type: 'ControlPlaneSighted' },
      { ...b, type: 'FailoverStarted', kind, from: node, to: other, evidence: [evidence(node, false)] },
      { ...b, type: 'ActionRequested', intent },
      { ...b, type: 'ActionSucceeded', intent, detail: { checkpointLsn: '0/5000028' } },
      { ...b, type: 'ActionFailed', intent },
      { ...b, type: 'Fenced', node, by: 'agent', evidence: [evidence(node, true)] },
      { ...b, type: 'Promoted', node: other, from: node === other ? null : node },
      { ...b, type: 'FailoverCompleted', kind, from: node, to: other },
      { ...b, type: 'FailoverAborted', kind, from: node, to: null },
      { ...b, type: 'FailoverImpossible', from: node, evidence: [] },
      { ...b, type: 'Paused' },
      { ...b, type: 'Resumed' },
      { ...b, type: 'NodeAdded', node: NodeSpec.parse({ name: 'delta', host: '127.0.0.1', port: 5440, agent: 'http://127.0.0.1:8020' }) },
      { ...b, type: 'NodeRemoved', node },
      { ...b, type: 'NodeRemoved', node: 'delta' },
    ];
    return DecisionEvent.parse(candidates[pick % candidates.length]);
  });

/** A log as a list of decide outcomes (1-4 events each), opening with the cluster's initialization. */
export const decisionLogArb = (cluster: string): fc.Arbitrary<DecisionEvent[][]> =>
  fc.array(fc.array(decisionEventArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 30 }).map((outcomes) => [[ev.initialized(cluster)], ...outcomes]);
