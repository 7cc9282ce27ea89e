import { z } from 'zod';
import { FailoverKind, FenceMethod, Intent } from './events.ts';
import { Lsn } from './observation.ts';
import { ClusterSpec, NodeName } from './spec.ts';

/**
 * A failover or switchover in progress: which step it has reached (the transitions are listed
 * at the head of failoverSteps.ts). It ends as the endpoints move: FailoverCompleted is emitted
 * in the decision that records their success, so no later state holds a finished failover.
 */
export const FailoverInProgress = z.object({
  kind: FailoverKind,
  /** The term this change of primary will hold. */
  term: z.number().int(),
  from: NodeName,
  to: NodeName,
  startedAt: z.number(),
  step: z.enum(['fencing', 'promoting', 'switching']),
  fencedBy: FenceMethod.nullable(),
  /** For a switchover: the old primary's shutdown checkpoint, which the candidate must replay first. */
  minLsn: Lsn.nullable(),
  /** Synchronous standbys already re-pointed at the candidate, so the old primary can't regain a commit quorum. */
  detached: z.array(NodeName),
  /** The promotion was asked for: from then on its outcome is unknown until the candidate answers, so the failover can't be called off. */
  promoteRequested: z.boolean(),
  /** When the old primary was recorded fenced (older logs: unknown). */
  fencedAt: z.number().nullable().default(null),
  /** Where the old primary's WAL ended, as its agent's fence answer reports it (read just before the stop). */
  finalLsn: Lsn.nullable().default(null),
  /** When the failover entered its current step (older logs: unknown), for `pgvigil status`. */
  stepAt: z.number().nullable().default(null),
  /**
   * A switchover's deadline (issue 13 item 4): past it, a promotion not yet a fact is given up,
   * the switchover recorded as failed and the old primary started again. Absent: none.
   */
  deadlineAt: z.number().optional(),
});
export type FailoverInProgress = z.infer<typeof FailoverInProgress>;
export type FailoverStep = FailoverInProgress['step'];

/** The folded decision log: everything decide needs besides the command. JSON-safe, so it can be snapshotted. */
export const ClusterState = z.object({
  cluster: z.string(),
  /** null until ClusterInitialized. */
  spec: ClusterSpec.nullable(),
  term: z.number().int().min(0),
  /** The primary of the current term. */
  primary: NodeName.nullable(),
  paused: z.boolean(),
  /** No node answered the last round: no automatic action until one does (rule 1). */
  blind: z.boolean(),
  /** ControlPlaneBlind was recorded for this blindness: every node failed the failure threshold (older snapshots: not known, false). */
  blindReported: z.boolean().default(false),
  /** Nodes the log has declared down. */
  down: z.array(NodeName),
  /** Standbys the log has declared beyond readLagLimit. */
  lagging: z.array(NodeName),
  /** The synchronous set as the primary last reported it. */
  syncSet: z.array(NodeName),
  /** The primary's synchronous_standby_names as last reported (older logs: unknown). */
  primarySyncNames: z.object({ node: NodeName, value: z.string(), expected: z.string(), matches: z.boolean() }).nullable().default(null),
  /**
   * The current primary's promotion point: the commits up to it were acknowledged under an older
   * primary's quorum, so until one of its standbys has received that far they may be on it alone.
   * Moved on by a change of its own synchronous_standby_names (the commits before it were
   * acknowledged under the old value, which may have counted members the spec no longer has).
   * lsn null: promoted, position unknown (the failover away from it uses its last known LSN).
   */
  inherited: z.object({ node: NodeName, lsn: Lsn.nullable(), since: z.literal('syncNames').optional() }).nullable().default(null),
  /**
   * Nodes that were primaries of an older term (or candidates whose promotion may have landed)
   * and have not yet been rewound, with when each lost its role: only a lease renewed after
   * that shows its agent is back.
   */
  deposed: z.record(z.string(), z.number()),
  failover: FailoverInProgress.nullable(),
  /**
   * A candidate whose promotion was asked for when its failover was aborted, until a promotion is
   * recorded: it may have acknowledged writes as primary of that term, so the old primary
   * answering again does not call the next failover off (older logs: none).
   */
  lostCandidate: z.object({ node: NodeName, term: z.number().int() }).nullable().default(null),
  /**
   * The highest term in which the control plane asked each node to stop (fence, demote), answered
   * or not: its agent may hold a fence marker of that term (a request run late), so starting it
   * again as primary needs a later term (restartPrimary.ts). Older logs: none.
   */
  stopAskedIn: z.record(z.string(), z.number().int()).default({}),
  /** Intents requested and not yet answered, with when they were requested. */
  pending: z.array(z.object({ intent: Intent, requestedAt: z.number() })),
  writer: NodeName.nullable(),
  readers: z.array(NodeName),
  /** The last failover that could not find a candidate, so it is reported once, not every round. */
  impossibleReportedFor: z.number().int().nullable(),
  /** Agents whose clock was last measured beyond the skew they allow (ClockSkewed, not yet cleared), with the figure. */
  clockSkew: z.record(z.string(), z.object({ skewMs: z.number(), uncertaintyMs: z.number(), maxSkewMs: z.number(), since: z.number() })).default({}),
  /** Each node's last self-fence recorded (NodeSelfFenced), by its marker's time, so each is recorded once. Older logs: none. */
  selfFenceReported: z.record(z.string(), z.string()).default({}),
  /** When each intent last got an answer, so a repeated request waits out actionTimeoutMs. */
  lastOutcomeAt: z.record(z.string(), z.number()),
});
export type ClusterState = z.infer<typeof ClusterState>;

/** Deposed and not yet rewound (an own key: a node may be called "constructor"). */
export const isDeposed = (state: ClusterState, node: string): boolean => Object.hasOwn(state.deposed, node);

export function initialState(cluster: string): ClusterState {
  return {
    cluster,
    spec: null,
    term: 0,
    primary: null,
    paused: false,
    blind: false,
    blindReported: false,
    down: [],
    lagging: [],
    syncSet: [],
    primarySyncNames: null,
    inherited: null,
    deposed: {},
    failover: null,
    lostCandidate: null,
    stopAskedIn: {},
    pending: [],
    writer: null,
    readers: [],
    impossibleReportedFor: null,
    clockSkew: {},
    selfFenceReported: {},
    lastOutcomeAt: {},
  };
}
