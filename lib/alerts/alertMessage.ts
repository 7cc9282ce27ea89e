import type { DecisionEvent } from '../domain/events.ts';

export type Severity = 'critical' | 'warning' | 'info';

/** One alert, the same for every channel (SNS, webhook, console). */
export interface AlertMessage {
  cluster: string;
  event: DecisionEvent['type'];
  severity: Severity;
  term: number;
  at: string;
  node: string | null;
  subject: string;
  body: string;
  paused: boolean;
}

/** Which decision events people are told about, and how loudly. The rest stay in the audit log. */
const ALERTS: Partial<Record<DecisionEvent['type'], { severity: Severity; what: (e: DecisionEvent) => string; when?: (e: DecisionEvent) => boolean }>> = {
  NodeDown: { severity: 'warning', what: (e) => `node ${nodeOf(e)} is down` },
  NodeUp: { severity: 'info', what: (e) => `node ${nodeOf(e)} is up` },
  LagExceeded: { severity: 'warning', what: (e) => `standby ${nodeOf(e)} lags beyond the read limit` },
  ControlPlaneBlind: { severity: 'critical', what: () => 'control plane blind: no node answers' },
  // Only after a ControlPlaneBlind: a round below the failure threshold raised no alert to end.
  ControlPlaneSighted: {
    severity: 'info',
    what: () => 'control plane sees the cluster again',
    when: (e) => e.type === 'ControlPlaneSighted' && e.blindReported,
  },
  FailoverStarted: { severity: 'critical', what: (e) => (e.type === 'FailoverStarted' ? `${label(e.kind)} started: ${e.from} → ${e.to}` : '') },
  FailoverCompleted: { severity: 'critical', what: (e) => (e.type === 'FailoverCompleted' ? `${label(e.kind)} completed: ${e.to} is primary` : '') },
  FailoverAborted: { severity: 'critical', what: (e) => (e.type === 'FailoverAborted' ? `${label(e.kind)} aborted` : '') },
  FailoverImpossible: { severity: 'critical', what: (e) => (e.type === 'FailoverImpossible' ? `primary ${e.from} failed and no standby can be promoted` : '') },
  Paused: { severity: 'warning', what: () => 'paused: automatic failover is off' },
  Resumed: { severity: 'info', what: () => 'resumed: automatic failover is on' },
  // Only the mismatch: the quorum proof and the candidate rule are off until it is gone.
  SyncNamesReported: {
    severity: 'critical',
    what: (e) => (e.type === 'SyncNamesReported' ? `primary ${e.node} waits for another commit quorum than the spec asks` : ''),
    when: (e) => e.type === 'SyncNamesReported' && !e.matches,
  },
  ClockSkewed: {
    severity: 'critical',
    what: (e) => (e.type === 'ClockSkewed' ? `clock of ${e.node}'s agent ${(e.skewMs / 1000).toFixed(1)} s off, beyond its ${e.maxSkewMs} ms: every action refused` : ''),
  },
  NodeSelfFenced: { severity: 'critical', what: (e) => (e.type === 'NodeSelfFenced' ? `${e.node}'s agent stopped its PostgreSQL itself (self-fenced)` : '') },
  ClockSkewCleared: { severity: 'info', what: (e) => (e.type === 'ClockSkewCleared' ? `clock of ${e.node}'s agent within its allowed skew again` : '') },
  AgentRestarted: { severity: 'warning', what: (e) => (e.type === 'AgentRestarted' ? `agent of ${e.node} died and was restarted (restart ${e.restarts})` : '') },
};

const label = (kind: string): string => (kind === 'switchover' ? 'switchover' : kind === 'manual' ? 'manual failover' : 'failover');

function nodeOf(e: DecisionEvent): string | null {
  if ('node' in e && typeof e.node === 'string') return e.node;
  if ('from' in e && typeof e.from === 'string') return e.from;
  return null;
}

/** The alert for a decision event, or null when the event is for the audit log only. */
export function alertFor(cluster: string, event: DecisionEvent, paused: boolean): AlertMessage | null {
  const rule = ALERTS[event.type];
  if (!rule || (rule.when && !rule.when(event))) return null;
  const at = new Date(event.at).toISOString();
  const what = rule.what(event);
  const pausedNote = paused && event.type !== 'Paused' ? ' [PAUSED]' : '';
  const subject = `[pgvigil ${rule.severity.toUpperCase()}] ${cluster}: ${what}${pausedNote}`.slice(0, 100);
  const since = new Date(event.at - 60_000).toISOString();
  const body = [
    `${what}.`,
    '',
    `Cluster:  ${cluster}${paused ? ' (paused: maintenance mode, no automatic action)' : ''}`,
    `Event:    ${event.type} at ${at}`,
    `Term:     ${event.term}`,
    `Reason:   ${event.reason}`,
    '',
    `Look further: pgvigil history --since ${since}`,
  ].join('\n');
  return { cluster, event: event.type, severity: rule.severity, term: event.term, at, node: nodeOf(event), subject, body, paused };
}

/**
 * The alerts for one decision's events, in order, given whether the cluster was paused before
 * it. Every channel uses this, so each alert sent while paused says so, and none after Resumed.
 */
export function alertsFor(cluster: string, events: readonly DecisionEvent[], pausedBefore: boolean): AlertMessage[] {
  let paused = pausedBefore;
  const out: AlertMessage[] = [];
  for (const event of events) {
    if (event.type === 'Paused') paused = true;
    if (event.type === 'Resumed') paused = false;
    const alert = alertFor(cluster, event, paused);
    if (alert) out.push(alert);
  }
  return out;
}

/** The alert for a log that can't be read whole: decide refuses to act on it. */
export function unreadableLogAlert(cluster: string, reason: string, now: number): AlertMessage {
  const at = new Date(now).toISOString();
  return {
    cluster,
    event: 'ControlPlaneBlind',
    severity: 'critical',
    term: 0,
    at,
    node: null,
    subject: `[pgvigil CRITICAL] ${cluster}: decision log unreadable, no automatic action`.slice(0, 100),
    body: [`The decision log of ${cluster} can't be read whole, so decide refuses to act.`, '', `Reason:   ${reason}`, '', 'Look further: pgvigil history --json'].join('\n'),
    paused: false,
  };
}
