import type { DecisionEvent } from '../domain/events.ts';

/** The node an event is about, for the history's NODE column and --node filter. */
export function eventNode(e: DecisionEvent): string {
  switch (e.type) {
    case 'ActionRequested':
    case 'ActionSucceeded':
    case 'ActionFailed':
      return e.intent.node;
    case 'FailoverStarted':
    case 'FailoverCompleted':
    case 'FailoverAborted':
      return e.to ?? e.from;
    case 'ClusterInitialized':
      return e.primary;
    case 'NodeAdded':
      return e.node.name;
    case 'FailoverImpossible':
      return e.from;
    default:
      return 'node' in e && typeof e.node === 'string' ? e.node : '';
  }
}

/** The event's name as the history shows it: intents by their action. */
export function eventLabel(e: DecisionEvent): string {
  if (e.type === 'ActionRequested') return `${e.intent.action}-requested`;
  if (e.type === 'ActionSucceeded') return `${e.intent.action}-done`;
  if (e.type === 'ActionFailed') return `${e.intent.action}-failed`;
  return e.type;
}

/** One line per event: time, term, event, node, reason. */
export function decisionLine(e: DecisionEvent): string {
  const time = new Date(e.at).toISOString().slice(11, 23);
  return `${time}  term ${String(e.term).padStart(2)}  ${eventLabel(e).padEnd(20)} ${eventNode(e).padEnd(6)} ${e.reason}`;
}
