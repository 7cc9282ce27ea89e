import { shutdownCheckpoint } from './actionDetail.ts';
import type { DecisionEvent } from './events.ts';
import type { ClusterState } from './state.ts';

const add = (list: readonly string[], name: string): string[] => (list.includes(name) ? [...list] : [...list, name]);
const remove = (list: readonly string[], name: string): string[] => list.filter((n) => n !== name);

/** Fold one decision event into the state. Pure and total: every event type has a case. */
export function evolve(state: ClusterState, event: DecisionEvent): ClusterState {
  // Terms only rise, whatever order a bad log presents.
  const s: ClusterState = { ...state, term: Math.max(state.term, event.term) };
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
    case 'SyncSetChanged':
      return { ...s, syncSet: [...event.members] };
    case 'ControlPlaneBlind':
      return { ...s, blind: true };
    case 'ControlPlaneSighted':
      return { ...s, blind: false };
    case 'FailoverStarted':
      return {
        ...s,
        failover: {
          kind: event.kind,
          term: event.term,
          from: event.from,
          to: event.to,
          startedAt: event.at,
          step: 'fencing',
          fencedBy: null,
          minLsn: null,
          detached: [],
          promoteRequested: false,
        },
        impossibleReportedFor: null,
      };
    case 'ActionRequested':
      return {
        ...s,
        failover:
          s.failover && event.intent.action === 'promote' && event.intent.term === s.failover.term ? { ...s.failover, promoteRequested: true } : s.failover,
        pending: [...s.pending.filter((p) => p.intent.id !== event.intent.id), { intent: event.intent, requestedAt: event.at }],
      };
    case 'ActionSucceeded': {
      const pending = s.pending.filter((p) => p.intent.id !== event.intent.id);
      s.lastOutcomeAt = { ...s.lastOutcomeAt, [event.intent.id]: event.at };
      const { intent } = event;
      if (intent.action === 'endpoints') {
        const readers = intent.readers ?? [];
        const failover = s.failover && s.failover.term === intent.term ? { ...s.failover, step: 'done' as const } : s.failover;
        return { ...s, pending, writer: intent.node, readers, failover };
      }
      const f = s.failover;
      if (intent.action === 'follow' && f && f.term === intent.term && f.step === 'promoting' && intent.primary === f.to) {
        return { ...s, pending, failover: { ...f, detached: add(f.detached, intent.node) } };
      }
      if ((intent.action === 'rewind' || intent.action === 'follow') && s.deposed.includes(intent.node)) {
        return { ...s, pending, deposed: remove(s.deposed, intent.node) };
      }
      if (intent.action === 'demote' && s.failover && s.failover.term === intent.term) {
        return { ...s, pending, failover: { ...s.failover, minLsn: shutdownCheckpoint(event.detail).lsn } };
      }
      return { ...s, pending };
    }
    case 'ActionFailed':
      return {
        ...s,
        pending: s.pending.filter((p) => p.intent.id !== event.intent.id),
        lastOutcomeAt: { ...s.lastOutcomeAt, [event.intent.id]: event.at },
      };
    case 'Fenced': {
      const failover =
        s.failover && s.failover.from === event.node && s.failover.step === 'fencing'
          ? { ...s.failover, step: 'promoting' as const, fencedBy: event.by }
          : s.failover;
      return { ...s, failover };
    }
    case 'Promoted': {
      const failover = s.failover && s.failover.to === event.node ? { ...s.failover, step: 'switching' as const } : s.failover;
      return {
        ...s,
        primary: event.node,
        deposed: event.from ? add(remove(s.deposed, event.node), event.from) : remove(s.deposed, event.node),
        deposedAt: event.from ? { ...s.deposedAt, [event.from]: event.at } : s.deposedAt,
        syncSet: [],
        failover,
        // Outcomes of older terms can no longer be repeated: forget them so the state stays small.
        lastOutcomeAt: Object.fromEntries(Object.entries(s.lastOutcomeAt).filter(([id]) => id.startsWith(`${event.term}:`))),
      };
    }
    case 'FailoverCompleted':
      return { ...s, failover: null };
    case 'FailoverAborted': {
      // A candidate whose promotion was asked for may be primary of the aborted term: depose it,
      // so it is rewound onto whichever node is promoted next rather than trusted.
      const f = s.failover;
      if (f && f.promoteRequested && event.to !== null && event.to !== s.primary) {
        return { ...s, failover: null, deposed: add(s.deposed, event.to), deposedAt: { ...s.deposedAt, [event.to]: event.at } };
      }
      return { ...s, failover: null };
    }
    case 'FailoverImpossible':
      return { ...s, impossibleReportedFor: event.term };
    case 'Paused':
      return { ...s, paused: true };
    case 'Resumed':
      return { ...s, paused: false };
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
            deposed: remove(s.deposed, event.node),
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
