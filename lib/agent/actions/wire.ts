import { z } from 'zod';
import { BackupId } from '../../backup/backupManifest.ts';
import type { AgentClock } from '../../domain/clockSkew.ts';
import { Lsn } from '../../domain/observation.ts';
import { NodeName, type NodeSpec } from '../../domain/spec.ts';
import type { Actions } from './actionTable.ts';

/**
 * The agent's wire contract, `POST /v1/actions/<action>`: what each action is sent and what
 * it answers. Callers import this file, never the actions: it pulls in zod and the domain's
 * names only, not the PostgreSQL code that carries the actions out. The request of each
 * action is the schema next to its code (`RequestOf`, read here as a type only); its answer
 * is one schema below, which `callAgent` checks and the action's code is typed against.
 */

export const Term = z.number({ error: 'give the term (an integer ≥ 0)' }).int().min(0);

/** A peer PostgreSQL node; the host ends up in a conninfo, so only plain host names. */
export const Peer = z
  .object({
    name: NodeName,
    host: z.string().regex(/^[A-Za-z0-9.:_-]{1,253}$/, 'give a host name or IP address'),
    port: z.number({ error: 'give the PostgreSQL port' }).int().min(1).max(65535),
  })
  .strict();
export type Peer = z.infer<typeof Peer>;

/** The node of the spec as an action names it: where its PostgreSQL listens. */
export function peerOf(node: Pick<NodeSpec, 'name' | 'host' | 'port'>): Peer {
  return { name: node.name, host: node.host, port: node.port };
}

// Answers. Each schema lists the facts an action adds to `ok` and `reason` when it succeeds.
// They are loose: a field the agent adds later passes through to the decision log, as before.

/** Where the writer address stands after the action; absent when no VIP is configured. */
const Vip = z.object({ address: z.string(), placed: z.boolean().optional(), removed: z.boolean().optional(), reason: z.string() }).optional();
const Timeline = z.number().int().min(0);

const StatusAnswer = z.looseObject({
  node: NodeName,
  cluster: z.string(),
  term: z.number().int().min(0),
  running: z.boolean(),
  answering: z.boolean(),
  inRecovery: z.boolean().nullable(),
  role: z.enum(['stopped', 'unknown', 'standby', 'primary']),
  pgVersion: z.number().int().nullable(),
  timeline: Timeline.nullable(),
  walLsn: Lsn.nullable(),
  receiver: z.object({ status: z.string(), senderHost: z.string().nullable(), senderPort: z.number().int().nullable() }).nullable(),
  fenced: z.object({ term: z.number().int().min(0), why: z.string(), at: z.string() }).nullable(),
  dataDir: z.object({
    path: z.string(),
    exists: z.boolean(),
    majorVersion: z.number().int().nullable(),
    state: z.string().nullable(),
    checkpointLsn: Lsn.nullable(),
    checkpointTimeline: Timeline.nullable(),
  }),
});

/** promoted: false when it already was the primary of this term (a retried promote). */
/** synchronousStandbyNames: the setting in force as it left recovery (asked with one), so the decider knows the quorum of its first commit. */
const PromoteAnswer = z.looseObject({ promoted: z.boolean(), timeline: Timeline.nullable(), walLsn: Lsn.nullable(), synchronousStandbyNames: z.string().optional(), vip: Vip });

/** stoppedBy: how PostgreSQL went ('not running', 'fast', 'immediate', 'SIGKILL'). */
/** walLsn: a primary's WAL position read just before it was stopped (null: not a primary, or not answering). */
const FenceAnswer = z.looseObject({ stoppedBy: z.string().optional(), walLsn: Lsn.nullable().optional(), vip: Vip });

/** Before a switchover's drain: how long the CHECKPOINT and the archiving of a switched segment took (null: not archived). */
const CheckpointAnswer = z.looseObject({ checkpointMs: z.number().min(0), archivedMs: z.number().min(0).nullable() });

/** The shutdown checkpoint the successor must replay before its promotion (switchover). */
const DemoteAnswer = z.looseObject({ checkpointLsn: Lsn, timeline: Timeline });

/** Pointing a node at an upstream: changed false when it already streamed from there. */
const pointed = {
  changed: z.boolean(),
  how: z.enum(['reload', 'restart', 'start']).optional(),
  timeline: Timeline.nullable().optional(),
};

/** followFailed: a detaching follow could not follow the candidate, so it follows no one now. */
const FollowAnswer = z.looseObject({ ...pointed, followFailed: z.string().optional() });

const RewindAnswer = z.looseObject({
  ...pointed,
  changed: pointed.changed.optional(),
  method: z.enum(['none', 'pg_rewind', 'pg_basebackup']),
  rewindMs: z.number().optional(),
  basebackupMs: z.number().optional(),
});

/** cloned false: it already was a standby, and was only pointed at its upstream. */
const CloneAnswer = z.looseObject({ ...pointed, cloned: z.boolean(), basebackupMs: z.number().optional() });

/** started false: it was running already. replayLsn: where its replay stands once up. */
const StartAnswer = z.looseObject({ started: z.boolean(), replayLsn: Lsn.nullable() });

const BackupAnswer = z.looseObject({ id: BackupId, bytes: z.number().int().min(0), ms: z.number().min(0), stopLsn: Lsn });

/** Every action's answer schema, by action name. */
export const answers = {
  status: StatusAnswer,
  promote: PromoteAnswer,
  fence: FenceAnswer,
  demote: DemoteAnswer,
  checkpoint: CheckpointAnswer,
  follow: FollowAnswer,
  rewind: RewindAnswer,
  clone: CloneAnswer,
  backup: BackupAnswer,
  start: StartAnswer,
} as const;

/** The name of an agent action, as in `POST /v1/actions/<name>`. */
export type AgentAction = keyof typeof answers;

/** The body a caller sends: the input of the action's request schema (defaults may be left out). */
export type RequestOf<A extends AgentAction> = z.input<Actions[A]['schema']>;

/** A refusal or failure: its reason, and whatever facts the agent adds (`currentTerm`, `detail`…). */
export type Failed = { ok: false; reason: string } & Record<string, unknown>;

/** What an action's code answers: success with the facts of its schema, or a failure. */
export type Answer<Facts> = ({ ok: true; reason: string } & Facts) | Failed;

/** The facts an action's success adds to ok and reason. */
export type FactsOf<A extends AgentAction> = z.infer<(typeof answers)[A]>;

/** What a caller gets back from `callAgent`: the action's answer, and the HTTP status it came with. */
export type AnswerOf<A extends AgentAction> = Answer<FactsOf<A>> & {
  httpStatus?: number;
  /** The agent's clock against the caller's, measured on this answer (refusals too); absent when it sent none. */
  agentClock?: AgentClock;
  /** Why the agent's clock headers could not be read, naming the header. */
  agentClockUnread?: string;
};
