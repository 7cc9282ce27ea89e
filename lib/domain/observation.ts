import { z } from 'zod';
import { LSN_PATTERN } from './lsn.ts';
import { NodeName } from './spec.ts';

export const Lsn = z.string().regex(LSN_PATTERN, 'an LSN like 0/3000148');

/** Why a probe failed: refused/reset means the server is gone (a crash); timeout means silence. */
export const ProbeErrorKind = z.enum(['refused', 'timeout', 'auth', 'other']);
export type ProbeErrorKind = z.infer<typeof ProbeErrorKind>;

/** One row of the primary's pg_stat_replication. */
export const ReplicationRow = z.object({
  /** application_name: pgvigil sets it to the standby's node name. */
  name: z.string(),
  state: z.string(),
  syncState: z.enum(['async', 'potential', 'sync', 'quorum']),
  sentLsn: Lsn.nullable(),
  flushLsn: Lsn.nullable(),
  replayLsn: Lsn.nullable(),
});
export type ReplicationRow = z.infer<typeof ReplicationRow>;

/** What a standby's pg_stat_wal_receiver says. */
export const WalReceiver = z.object({
  status: z.string(),
  /** The node name the receiver streams from, resolved from sender host:port; null if unknown. */
  upstream: z.string().nullable(),
  senderHost: z.string().nullable(),
  senderPort: z.number().int().nullable(),
  /** ms since epoch of the last message from the sender, by the standby's clock. */
  lastMsgReceiptAt: z.number().nullable(),
});
export type WalReceiver = z.infer<typeof WalReceiver>;

/**
 * The agent's last stop of its PostgreSQL by itself (its lease lapsed, or its watchdog fired):
 * its fence marker's term, reason, and time by the agent's clock. The agent keeps reporting it
 * after the marker is cleared, so one a rewind clears at once is still recorded.
 */
export const SelfFence = z.object({ term: z.number().int(), why: z.string().min(1).max(500), at: z.string().max(40) });
export type SelfFence = z.infer<typeof SelfFence>;

/** The agent's lease as the prober saw it; the time is the prober's own clock, never the agent's. */
export const LeaseSeen = z.object({
  version: z.number().int().min(0),
  /** When this prober first saw this version (its own clock). */
  changedSeenAt: z.number(),
  /** The term the agent says it holds. */
  term: z.number().int().min(0),
  /**
   * The other members of the spec the agent counts when its lease lapses (it keeps serving
   * only while every one of them streams from it); null or absent: it knows none, and its
   * lease proves nothing (rule 3).
   */
  members: z.array(z.string()).nullable().optional(),
  /** The TTL the agent self-fences after; null or absent: not said (an older agent), and its lease proves nothing. */
  ttlMs: z.number().int().min(1).nullable().optional(),
  /** Its agent's last own stop, as its lease reports it once it renews again; null or absent: none (or an older agent). */
  selfFenced: SelfFence.nullable().optional(),
});
export type LeaseSeen = z.infer<typeof LeaseSeen>;

/**
 * One node as one prober saw it in one round. Written edge-triggered: when it changes,
 * and at least every heartbeat, so `at` is never older than the heartbeat for a live prober.
 */
export const NodeObservation = z.object({
  v: z.literal(1),
  cluster: NodeName,
  node: NodeName,
  prober: z.string().min(1),
  /** ms since epoch, by the prober's clock, of the round that wrote this. */
  at: z.number(),
  reachable: z.boolean(),
  /** Why the probe failed: refused/reset is a crash, timeout is silence. */
  error: z.object({ kind: ProbeErrorKind, message: z.string() }).nullable(),
  /** Consecutive failed rounds up to this one (0 when reachable). */
  consecutiveFailures: z.number().int().min(0),
  /** ms since epoch of the first failure of the current run of failures. */
  failingSince: z.number().nullable(),
  role: z.enum(['primary', 'standby', 'unknown']),
  systemIdentifier: z.string().nullable(),
  /** True when the system identifier differs from the cluster's: a node from another cluster. */
  foreign: z.boolean(),
  timeline: z.number().int().nullable(),
  /** pg_current_wal_lsn() on a primary. */
  walLsn: Lsn.nullable(),
  /** On a standby: pg_last_wal_receive_lsn() / pg_last_wal_replay_lsn(). */
  receiveLsn: Lsn.nullable(),
  replayLsn: Lsn.nullable(),
  /** On a standby: bytes behind the primary's last known LSN, when known. */
  lagBytes: z.number().int().min(0).nullable(),
  /** On a standby: seconds since the last replayed transaction, when known. */
  lagSeconds: z.number().min(0).nullable(),
  /** The last WAL LSN this prober saw the node write while it was a reachable primary. */
  lastKnownWalLsn: Lsn.nullable(),
  /**
   * When this prober saw lastKnownWalLsn (older items: unknown). A prober that restarted resumes
   * from the last stored observation, up to a heartbeat old: then the LSN is too.
   */
  lastKnownWalAt: z.number().nullable().default(null),
  /** The timeline lastKnownWalLsn is on (older items: unknown). */
  lastKnownTimeline: z.number().int().nullable().default(null),
  walReceiver: WalReceiver.nullable(),
  /**
   * When this prober first saw the WAL receiver in its current state (status and upstream, or
   * none): how long a standby has been cut off from its primary.
   */
  receiverSince: z.number().nullable().default(null),
  replication: z.array(ReplicationRow),
  /** synchronous_standby_names as the node reports it. */
  synchronousStandbyNames: z.string().nullable(),
  lease: LeaseSeen.nullable(),
});
export type NodeObservation = z.infer<typeof NodeObservation>;

/** True when this standby's WAL receiver is streaming from `primary`. */
export function streamsFrom(obs: NodeObservation, primary: string): boolean {
  return obs.reachable && obs.walReceiver !== null && obs.walReceiver.status === 'streaming' && obs.walReceiver.upstream === primary;
}
