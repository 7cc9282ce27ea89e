import { ActionName, DecisionEvent, type NodeEvidence } from '../domain/events.ts';
import { eventLabel, eventNode } from './decisionLines.ts';

export interface HistoryEntry {
  seq: number;
  event: DecisionEvent;
}

/** Every name --type accepts: event types, and intents by action (promote-requested, fence-done…). */
export const HISTORY_TYPES: readonly string[] = [
  ...DecisionEvent.options.map((o) => o.shape.type.value),
  ...ActionName.options.flatMap((a) => [`${a}-requested`, `${a}-done`, `${a}-failed`]),
];

/** --type matches an event's type or its label (promote-requested…), case-insensitive. */
export function matchesType(e: DecisionEvent, types: readonly string[]): boolean {
  const label = eventLabel(e).toLowerCase();
  const type = e.type.toLowerCase();
  return types.some((t) => t === label || t === type);
}

/** Matches the node an event is about, or an intent's target, or a failover's old primary. */
export function matchesNode(e: DecisionEvent, node: string): boolean {
  if (eventNode(e) === node) return true;
  if ((e.type === 'FailoverStarted' || e.type === 'FailoverCompleted' || e.type === 'FailoverAborted' || e.type === 'Promoted') && e.from === node) return true;
  return false;
}

export const HISTORY_HEADER = `${'TIME (UTC)'.padEnd(24)} ${'SEQ'.padStart(5)}  TERM  ${'EVENT'.padEnd(20)} ${'NODE'.padEnd(6)} REASON`;

/** One line per event: time, seq, term, event, node, reason; then what the decision saw. */
export function historyLines(h: HistoryEntry): string[] {
  const e = h.event;
  const line = `${new Date(e.at).toISOString().padEnd(24)} ${String(h.seq).padStart(5)}  ${String(e.term).padStart(4)}  ${eventLabel(e).padEnd(20)} ${eventNode(e).padEnd(6)} ${e.reason}`;
  return [line, ...detailLines(e).map((d) => `${' '.repeat(8)}${d}`)];
}

/** The observations a decision was taken on (evidence), and what an action reported back. */
export function detailLines(e: DecisionEvent): string[] {
  switch (e.type) {
    case 'FailoverStarted':
    case 'FailoverImpossible':
    case 'ControlPlaneSightLost':
    case 'ControlPlaneBlind':
      return e.evidence.length > 0 ? ['evidence (what the probes saw):', ...e.evidence.map((x) => `  ${evidenceLine(x)}`)] : [];
    case 'Fenced':
      return e.evidence.length > 0 ? [`fenced by ${e.by}; evidence:`, ...e.evidence.map((x) => `  ${evidenceLine(x)}`)] : [`fenced by ${e.by}`];
    case 'NodeDown':
    case 'NodeUp':
      return [`evidence: ${evidenceLine(e.evidence)}`];
    case 'FailoverCompleted':
      return e.startedAt !== undefined ? [`took ${((e.at - e.startedAt) / 1000).toFixed(1)} s from FailoverStarted`] : [];
    case 'ActionSucceeded': {
      const keys = Object.keys(e.detail);
      return keys.length > 0 ? [`detail: ${clip(JSON.stringify(e.detail), 240)}`] : [];
    }
    case 'ActionRequested': {
      const i = e.intent;
      const parts = [i.primary ? `primary ${i.primary}` : '', i.minLsn ? `after LSN ${i.minLsn}` : '', i.readers ? `readers ${i.readers.join(', ') || 'none'}` : ''].filter(Boolean);
      return parts.length > 0 ? [`intent ${i.id}: ${parts.join('; ')}`] : [];
    }
    default:
      return [];
  }
}

export function evidenceLine(x: NodeEvidence): string {
  const state = x.reachable ? `${x.role}` : `unreachable${x.error ? ` (${x.error})` : ''}`;
  const parts = [
    x.node.padEnd(6),
    state,
    x.consecutiveFailures > 0 ? `${x.consecutiveFailures} failed probes` : '',
    x.receiver ? `receiver ${x.receiver}` : '',
    x.lsn ? `LSN ${x.lsn}` : '',
  ].filter(Boolean);
  return parts.join(', ').replace(', ', '  ');
}

/** The JSON form of an entry: the stored event, flattened, with its seq, node, label and ISO time. */
export function historyJson(h: HistoryEntry): Record<string, unknown> {
  return { seq: h.seq, time: new Date(h.event.at).toISOString(), label: eventLabel(h.event), node: eventNode(h.event), ...h.event };
}

const clip = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);
