import type { DecisionEvent, DecisionEventType } from '../domain/events.ts';

/**
 * Which decision events reach hooks (the local `--on-event` command and, on AWS, EventBridge).
 * Every type is listed, so a new event type does not compile until someone says whether it is
 * news. Left out: the action bookkeeping inside a failover (requested, succeeded, failed), whose
 * outcome already shows as Fenced, Promoted, FailoverCompleted or FailoverAborted.
 */
const HOOKED: Record<DecisionEventType, boolean> = {
  ClusterInitialized: true,
  NodeDown: true,
  NodeUp: true,
  LagExceeded: true,
  LagRecovered: true,
  SyncSetChanged: true,
  SyncNamesReported: true,
  // One round that reached no node is not news; ControlPlaneBlind, past the failure threshold, is.
  ControlPlaneSightLost: false,
  ControlPlaneBlind: true,
  ControlPlaneSighted: true,
  FailoverStarted: true,
  ActionRequested: false,
  ActionSucceeded: false,
  ActionFailed: false,
  Fenced: true,
  Promoted: true,
  FailoverCompleted: true,
  FailoverAborted: true,
  FailoverImpossible: true,
  Paused: true,
  Resumed: true,
  NodeAdded: true,
  NodeRemoved: true,
  AgentRestarted: true,
  NodeSelfFenced: true,
  ClockSkewed: true,
  ClockSkewCleared: true,
};

export const hookedEventTypes: readonly DecisionEventType[] = Object.entries(HOOKED)
  .filter(([, on]) => on)
  .map(([type]) => type as DecisionEventType);

/**
 * A decision event as hooks get it: the event itself, its cluster, the decision's seq in the log
 * and its place among that decision's events. (cluster, seq, index) names it once and for all,
 * so a receiver can drop the copy a retried delivery brings.
 */
export type HookEvent = DecisionEvent & { cluster: string; seq: number; index: number };

/** The hooked events of one decision, in log order. */
export function hookEventsOf(cluster: string, seq: number, events: readonly DecisionEvent[]): HookEvent[] {
  return events.flatMap((e, index) => (HOOKED[e.type] ? [{ ...e, cluster, seq, index }] : []));
}

/** The node an event is about, where it names one (NodeAdded names it inside its spec). */
export function hookEventNode(e: DecisionEvent): string | null {
  if (!('node' in e)) return null;
  if (typeof e.node === 'string') return e.node;
  return e.node.name;
}
