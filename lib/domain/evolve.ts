import type { DecisionEvent } from './events.ts';
import { evolveFailover, isDetach } from './evolveFailover.ts';
import { compareLsn } from './lsn.ts';
import type { ClusterState } from './state.ts';

/**
 * A primary whose synchronous_standby_names changed acknowledged the commits before the change
 * under the old value: they count as inherited up to where the change was seen, as a promotion's
 * do, so rule 2 needs a member of the new quorum that far. Older events (no walLsn) change nothing.
 */
function quorumChangePoint(s: ClusterState, e: Extract<DecisionEvent, { type: 'SyncNamesReported' }>): ClusterState['inherited'] {
  const prev = s.primarySyncNames;
  if (e.walLsn === undefined || prev === null || prev.node !== e.node || prev.value === e.value) return s.inherited;
  const held = s.inherited?.node === e.node ? s.inherited.lsn : undefined;
  // Unknown (null) stays unknown: the failover away then measures from the last known LSN, past both.
  if (held === null || e.walLsn === null) return { node: e.node, lsn: null, since: 'syncNames' };
  return { node: e.node, lsn: held === undefined || compareLsn(e.walLsn, held) > 0 ? e.walLsn : held, since: 'syncNames' };
}

const add = (list: readonly string[], name: string): string[] => (list.includes(name) ? [...list] : [...list, name]);
const remove = (list: readonly string[], name: string): string[] => list.filter((n) => n !== name);
const depose = (deposed: Readonly<Record<string, number>>, node: string, at: number): Record<string, number> => ({ ...deposed, [node]: at });
function undepose(deposed: Readonly<Record<string, number>>, node: string): Record<string, number> {
  const { [node]: _rewound, ...rest } = deposed;
  return rest;
}

/** Fold one decision event into the state. Pure and total: every event type has a case. */
export function evolve(state: ClusterState, event: DecisionEvent): ClusterState {
  // Terms only rise, whatever order a bad log presents.
  const s: ClusterState = { ...state, term: Math.max(state.term, event.term) };
  return { ...evolveCluster(s, event), failover: evolveFailover(s.failover, event) };
}

/** Everything but the failover in progress (evolveFailover), which this reads as it was before the event. */
function evolveCluster(s: ClusterState, event: DecisionEvent): ClusterState {
  switch (event.type) {
    case 'ClusterInitialized':
      return {
        ...s,
        spec: event.spec,
        primary: event.primary,
        writer: event.primary,
        readers: event.spec.nodes.map((n) => n.name).filter((n) => n !== event.primary),
      };
    case 'NodeDown':
      return { ...s, down: add(s.down, event.node) };
    case 'NodeUp':
      return { ...s, down: remove(s.down, event.node) };
    case 'LagExceeded':
      return { ...s, lagging: add(s.lagging, event.node) };
    case 'LagRecovered':
      return { ...s, lagging: remove(s.lagging, event.node) };
    case 'SyncNamesReported':
      return { ...s, primarySyncNames: { node: event.node, value: event.value, expected: event.expected, matches: event.matches }, inherited: quorumChangePoint(s, event) };
    case 'SyncSetChanged':
      return { ...s, syncSet: [...event.members] };
    case 'ControlPlaneSightLost':
      return { ...s, blind: true };
    case 'ControlPlaneBlind':
      return { ...s, blind: true, blindReported: true };
    case 'ControlPlaneSighted':
      return { ...s, blind: false, blindReported: false };
    case 'FailoverStarted':
      return { ...s, impossibleReportedFor: null };
    case 'ActionRequested': {
      const { intent } = event;
      const pending = [...s.pending.filter((p) => p.intent.id !== intent.id), { intent, requestedAt: event.at }];
      // A stop asked for may land whenever the agent runs it: remember its term (restartPrimary.ts).
      const stops = intent.action === 'fence' || intent.action === 'demote';
      const stopAskedIn = stops && (s.stopAskedIn[intent.node] ?? -1) < intent.term ? { ...s.stopAskedIn, [intent.node]: intent.term } : s.stopAskedIn;
      return { ...s, pending, stopAskedIn };
    }
    case 'ActionSucceeded': {
      const { intent } = event;
      const answered = {
        ...s,
        pending: s.pending.filter((p) => p.intent.id !== intent.id),
        lastOutcomeAt: { ...s.lastOutcomeAt, [intent.id]: event.at },
      };
      // Each rule on its own. Endpoints: they now point where the intent said.
      const endpoints = intent.action === 'endpoints' ? { writer: intent.node, readers: intent.readers ?? [] } : {};
      // Rejoin: a rewind, or a follow, brings a deposed node back. Not a detach: it sets where the
      // node will stream from without waiting to see it stream (the reactor), so proves nothing.
      const rejoined = intent.action === 'rewind' || (intent.action === 'follow' && !isDetach(s.failover, intent));
      // A lost candidate rewound or re-pointed holds no writes of its own any more.
      const lostCandidate = rejoined && s.lostCandidate?.node === intent.node ? null : s.lostCandidate;
      return { ...answered, ...endpoints, deposed: rejoined ? undepose(s.deposed, intent.node) : s.deposed, lostCandidate };
    }
    case 'ActionFailed':
      return {
        ...s,
        pending: s.pending.filter((p) => p.intent.id !== event.intent.id),
        lastOutcomeAt: { ...s.lastOutcomeAt, [event.intent.id]: event.at },
      };
    case 'Fenced':
      return s;
    case 'Promoted':
      return {
        ...s,
        primary: event.node,
        inherited: { node: event.node, lsn: event.lsn },
        deposed: event.from ? depose(undepose(s.deposed, event.node), event.from, event.at) : undepose(s.deposed, event.node),
        syncSet: [],
        lostCandidate: null,
        // Outcomes of older terms can no longer be repeated: forget them so the state stays small.
        lastOutcomeAt: Object.fromEntries(Object.entries(s.lastOutcomeAt).filter(([id]) => id.startsWith(`${event.term}:`))),
      };
    case 'FailoverCompleted':
      return s;
    case 'FailoverAborted': {
      // A candidate whose promotion was asked for may be primary of the aborted term: depose it,
      // so it is rewound onto whichever node is promoted next rather than trusted.
      const f = s.failover;
      if (!f || !f.promoteRequested || event.to === null || event.to === s.primary) return s;
      const deposed = depose(s.deposed, event.to, event.at);
      return event.neverPromoted ? { ...s, deposed } : { ...s, deposed, lostCandidate: { node: event.to, term: event.term } };
    }
    case 'FailoverImpossible':
      return { ...s, impossibleReportedFor: event.term };
    case 'Paused':
      return { ...s, paused: true };
    case 'Resumed':
      return { ...s, paused: false };
    case 'ClockSkewed':
      return { ...s, clockSkew: { ...s.clockSkew, [event.node]: { skewMs: event.skewMs, uncertaintyMs: event.uncertaintyMs, maxSkewMs: event.maxSkewMs, since: event.at } } };
    case 'ClockSkewCleared': {
      const { [event.node]: _cleared, ...rest } = s.clockSkew;
      return { ...s, clockSkew: rest };
    }
    case 'NodeSelfFenced':
      return { ...s, selfFenceReported: { ...s.selfFenceReported, [event.node]: event.agentAt } };
    case 'AgentRestarted':
      // A fact for the audit log: the probes, not the agent's process, say whether the node is healthy.
      return s;
    case 'NodeAdded':
      return s.spec ? { ...s, spec: { ...s.spec, nodes: [...s.spec.nodes.filter((n) => n.name !== event.node.name), event.node] } } : s;
    case 'NodeRemoved':
      return s.spec
        ? {
            ...s,
            spec: { ...s.spec, nodes: s.spec.nodes.filter((n) => n.name !== event.node) },
            down: remove(s.down, event.node),
            lagging: remove(s.lagging, event.node),
            syncSet: remove(s.syncSet, event.node),
            deposed: undepose(s.deposed, event.node),
            stopAskedIn: Object.fromEntries(Object.entries(s.stopAskedIn).filter(([n]) => n !== event.node)),
            clockSkew: Object.fromEntries(Object.entries(s.clockSkew).filter(([n]) => n !== event.node)),
            readers: remove(s.readers, event.node),
          }
        : s;
    default: {
      const unhandled: never = event;
      return unhandled;
    }
  }
}

/** Fold a list of events from a state. */
export function fold(state: ClusterState, events: readonly DecisionEvent[]): ClusterState {
  return events.reduce(evolve, state);
}
