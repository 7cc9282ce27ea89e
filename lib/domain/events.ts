import { z } from 'zod';
import { Lsn } from './observation.ts';
import { ClusterSpec, NodeName, NodeSpec } from './spec.ts';

/**
 * Decision events: the permanent, audited log. Every event carries the term it was
 * decided in, the time (from the command, never a clock), and a reason a person can read.
 */
const base = {
  v: z.literal(1),
  at: z.number(),
  term: z.number().int().min(0),
  reason: z.string().min(1),
};

/** Automatic failover, operator switchover (planned, clean), or operator failover (the successor named). */
export const FailoverKind = z.enum(['failover', 'switchover', 'manual']);
export type FailoverKind = z.infer<typeof FailoverKind>;

/** How the old primary was proven unable to commit (rule 3): its agent, the synchronous quorum, its lease, or a clean demote. */
export const FenceMethod = z.enum(['agent', 'syncQuorum', 'lease', 'demote']);
export type FenceMethod = z.infer<typeof FenceMethod>;

/** A compact picture of a node at decision time: the evidence an auditor reads. */
export const NodeEvidence = z.object({
  node: NodeName,
  reachable: z.boolean(),
  role: z.string(),
  error: z.string().nullable(),
  consecutiveFailures: z.number().int(),
  receiver: z.string().nullable(),
  lsn: z.string().nullable(),
});
export type NodeEvidence = z.infer<typeof NodeEvidence>;

/** The agent actions an intent may ask for. */
/** start: a stopped standby started in recovery as it was, where no primary is in sight to follow. */
export const ActionName = z.enum(['fence', 'demote', 'promote', 'follow', 'rewind', 'endpoints', 'start']);
export type ActionName = z.infer<typeof ActionName>;

/** An intent: something decide wants done outside. The reactor executes it and reports back. */
export const Intent = z.object({
  /** Unique within the log: term, action and node. */
  id: z.string(),
  action: ActionName,
  /** The node whose agent acts; for endpoints, the new writer. */
  node: NodeName,
  term: z.number().int().min(0),
  /** For follow and rewind: the primary to follow. */
  primary: NodeName.nullable(),
  /** For promote in a switchover: wait until replay reaches this LSN. */
  minLsn: Lsn.nullable(),
  /** For endpoints: the readers. */
  readers: z.array(NodeName).nullable(),
  /**
   * For follow: a synchronous standby detached from the old primary before the candidate's
   * promotion, so the new setting in force is what counts, not the streaming that follows.
   * Absent (false) in items written before the field existed.
   */
  detach: z.boolean().optional(),
});
export type Intent = z.infer<typeof Intent>;

export const DecisionEvent = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('ClusterInitialized'), spec: ClusterSpec, primary: NodeName }),
  z.object({ ...base, type: z.literal('NodeDown'), node: NodeName, evidence: NodeEvidence }),
  z.object({ ...base, type: z.literal('NodeUp'), node: NodeName, evidence: NodeEvidence }),
  z.object({ ...base, type: z.literal('LagExceeded'), node: NodeName, lagBytes: z.number() }),
  z.object({ ...base, type: z.literal('LagRecovered'), node: NodeName, lagBytes: z.number() }),
  z.object({ ...base, type: z.literal('SyncSetChanged'), members: z.array(NodeName) }),
  /** The primary's synchronous_standby_names, and whether it waits for the quorum the spec asks. */
  z.object({
    ...base,
    type: z.literal('SyncNamesReported'),
    node: NodeName,
    value: z.string(),
    expected: z.string(),
    matches: z.boolean(),
    /** The primary's WAL position in the round that first showed this value: every commit it acknowledged under an earlier value lies before it (absent: older logs). */
    walLsn: Lsn.nullable().optional(),
  }),
  /**
   * A round in which no node answered: no automatic action until one does. Audit only; the alert
   * is ControlPlaneBlind, once every node has failed the failure threshold.
   */
  z.object({ ...base, type: z.literal('ControlPlaneSightLost'), evidence: z.array(NodeEvidence) }),
  z.object({ ...base, type: z.literal('ControlPlaneBlind'), evidence: z.array(NodeEvidence) }),
  /** A node answers again; `blindReported`: ControlPlaneBlind had been recorded (absent in older items: it had). */
  z.object({ ...base, type: z.literal('ControlPlaneSighted'), blindReported: z.boolean().default(true) }),
  z.object({
    ...base,
    type: z.literal('FailoverStarted'),
    kind: FailoverKind,
    from: NodeName,
    to: NodeName,
    evidence: z.array(NodeEvidence),
    /** A switchover's deadline for its promotion, from its start (issue 13 item 4); absent: none. */
    timeoutMs: z.number().int().positive().optional(),
  }),
  z.object({ ...base, type: z.literal('ActionRequested'), intent: Intent }),
  z.object({ ...base, type: z.literal('ActionSucceeded'), intent: Intent, detail: z.record(z.string(), z.unknown()) }),
  z.object({ ...base, type: z.literal('ActionFailed'), intent: Intent }),
  z.object({
    ...base,
    type: z.literal('Fenced'),
    node: NodeName,
    by: FenceMethod,
    evidence: z.array(NodeEvidence),
  }),
  z.object({
    ...base,
    type: z.literal('Promoted'),
    node: NodeName,
    from: NodeName.nullable(),
    /** The new primary's WAL position when its promotion was seen (its answer, else its first probe as primary); older logs: unknown. */
    lsn: Lsn.nullable().default(null),
  }),
  /** `startedAt`: its FailoverStarted's time, so the log itself says how long the change of primary took (older logs: absent). */
  z.object({ ...base, type: z.literal('FailoverCompleted'), kind: FailoverKind, from: NodeName, to: NodeName, startedAt: z.number().optional() }),
  /**
   * `neverPromoted`: the candidate was seen in recovery after every promote of the term had been
   * answered, so it took no write as primary; it is still deposed (a promote run late would be
   * stopped at once), but the old primary's data stays the newest (absent: not known).
   */
  z.object({ ...base, type: z.literal('FailoverAborted'), kind: FailoverKind, from: NodeName, to: NodeName.nullable(), neverPromoted: z.boolean().optional() }),
  z.object({ ...base, type: z.literal('FailoverImpossible'), from: NodeName, evidence: z.array(NodeEvidence) }),
  z.object({ ...base, type: z.literal('Paused') }),
  z.object({ ...base, type: z.literal('Resumed') }),
  z.object({ ...base, type: z.literal('NodeAdded'), node: NodeSpec }),
  z.object({ ...base, type: z.literal('NodeRemoved'), node: NodeName }),
  /**
   * An agent's clock, measured on its answer, is beyond the skew it allows (issue 13 item 5): it
   * refuses every signed request until the clocks agree. Once per episode, with the figure.
   */
  /**
   * A node's agent stopped its PostgreSQL itself (rule 3's self-fence, or its watchdog), as its
   * lease reported once the agent could renew again: the agent's decision, in the audit log
   * beside the control plane's. `fenceTerm` and `agentAt` (the agent's clock) are its marker's.
   */
  z.object({ ...base, type: z.literal('NodeSelfFenced'), node: NodeName, fenceTerm: z.number().int(), agentAt: z.string() }),
  z.object({ ...base, type: z.literal('ClockSkewed'), node: NodeName, skewMs: z.number().int(), uncertaintyMs: z.number().int().min(0), maxSkewMs: z.number().int().min(1) }),
  /** That agent's clock is within its allowed skew again. */
  z.object({ ...base, type: z.literal('ClockSkewCleared'), node: NodeName, skewMs: z.number().int(), uncertaintyMs: z.number().int().min(0), maxSkewMs: z.number().int().min(1) }),
  /** A node's agent died and its supervisor restarted it: exit code or signal, restarts so far. */
  z.object({ ...base, type: z.literal('AgentRestarted'), node: NodeName, exitCode: z.number().int().nullable(), signal: z.string().nullable(), restarts: z.number().int().min(1) }),
]);
export type DecisionEvent = z.infer<typeof DecisionEvent>;
export type DecisionEventType = DecisionEvent['type'];
export type EventOf<T extends DecisionEventType> = Extract<DecisionEvent, { type: T }>;

export function intentId(term: number, action: ActionName, node: string): string {
  return `${term}:${action}:${node}`;
}
