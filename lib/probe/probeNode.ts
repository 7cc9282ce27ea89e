import type { NodeObservation, ReplicationRow, WalReceiver } from '../domain/observation.ts';
import type { NodeSpec } from '../domain/spec.ts';
import { timelineOf, type NodeRow } from './nodeQuerySql.ts';
import { runNodeQuery } from './runNodeQuery.ts';
import type { ProbeContext } from './probeContext.ts';

export interface NodeProbeContext extends ProbeContext {
  cluster: string;
  /** The cluster's nodes, to name a standby's upstream from its sender host:port. */
  nodes?: readonly NodeSpec[];
  /** The spec's `timing.probeTimeoutMs` (probeRound passes it): the one definition of the probe's deadline. */
  timeoutMs: number;
  /** The round's time; defaults to now(). */
  at?: number;
}

/**
 * Observes one node. lagBytes is left null: it needs the primary's LSN from the same
 * round, which probeRound fills in.
 */
export async function probeNode(node: NodeSpec, ctx: NodeProbeContext): Promise<NodeObservation> {
  const at = ctx.at ?? ctx.now();
  const outcome = await runNodeQuery(
    { host: node.host, port: node.port, user: ctx.user ?? 'postgres', database: ctx.database ?? 'postgres', password: ctx.password, ssl: ctx.ssl },
    ctx.timeoutMs,
  );
  const prev = ctx.previous.get(node.name) ?? null;
  const base = {
    v: 1 as const,
    cluster: ctx.cluster,
    node: node.name,
    prober: ctx.prober,
    at,
    lease: leaseSeen(node.name, prev, ctx, at),
    lagBytes: null,
  };
  if (!outcome.ok) {
    const failures = prev && !prev.reachable ? prev.consecutiveFailures + 1 : 1;
    return {
      ...base,
      reachable: false,
      error: outcome.error,
      consecutiveFailures: failures,
      failingSince: prev && !prev.reachable && prev.failingSince !== null ? prev.failingSince : at,
      role: 'unknown',
      systemIdentifier: null,
      foreign: false,
      timeline: null,
      walLsn: null,
      receiveLsn: null,
      replayLsn: null,
      lagSeconds: null,
      lastKnownWalLsn: prev?.lastKnownWalLsn ?? null,
      lastKnownWalAt: prev?.lastKnownWalAt ?? null,
      lastKnownTimeline: prev?.lastKnownTimeline ?? null,
      walReceiver: null,
      receiverSince: receiverSince(prev, null, at),
      replication: [],
      synchronousStandbyNames: null,
    };
  }
  const row = outcome.row;
  const primary = !row.in_recovery;
  const receiver = walReceiverOf(row, ctx.nodes ?? []);
  const foreign = ctx.systemIdentifier != null && row.system_identifier !== ctx.systemIdentifier;
  return {
    ...base,
    reachable: true,
    error: null,
    consecutiveFailures: 0,
    failingSince: null,
    role: primary ? 'primary' : 'standby',
    systemIdentifier: row.system_identifier,
    foreign,
    timeline: standbyTimeline(row, prev),
    walLsn: row.wal_lsn,
    receiveLsn: row.receive_lsn,
    replayLsn: row.replay_lsn,
    lagSeconds: row.lag_seconds,
    // A foreign node's WAL positions mean nothing in this cluster.
    lastKnownWalLsn: primary && !foreign && row.wal_lsn ? row.wal_lsn : (prev?.lastKnownWalLsn ?? null),
    lastKnownWalAt: primary && !foreign && row.wal_lsn ? at : (prev?.lastKnownWalAt ?? null),
    lastKnownTimeline: primary && !foreign && row.wal_lsn ? timelineOf(row) : (prev?.lastKnownTimeline ?? null),
    walReceiver: receiver,
    receiverSince: receiverSince(prev, receiver, at),
    replication: row.replication.map(
      (r): ReplicationRow => ({
        name: r.application_name,
        state: r.state,
        syncState: r.sync_state,
        sentLsn: r.sent_lsn,
        flushLsn: r.flush_lsn,
        replayLsn: r.replay_lsn,
      }),
    ),
    synchronousStandbyNames: row.synchronous_standby_names,
  };
}

/**
 * A standby's timeline only rises (a promotion upstream, a rewind onto a newer one); each source
 * the query reads may lag (the control file until a restartpoint), so keep the highest seen since
 * it last answered as a standby.
 */
function standbyTimeline(row: NodeRow, prev: NodeObservation | null): number | null {
  const now = timelineOf(row);
  if (!row.in_recovery || !prev || !prev.reachable || prev.role !== 'standby' || prev.foreign || prev.systemIdentifier !== row.system_identifier || prev.timeline === null) return now;
  return now === null ? prev.timeline : Math.max(now, prev.timeline);
}

function walReceiverOf(row: NodeRow, nodes: readonly NodeSpec[]): WalReceiver | null {
  const w = row.wal_receiver;
  if (!w) return null;
  const upstream = nodes.find((n) => n.port === w.sender_port && n.host.toLowerCase() === (w.sender_host ?? '').toLowerCase());
  return {
    status: w.status,
    upstream: upstream?.name ?? null,
    senderHost: w.sender_host,
    senderPort: w.sender_port,
    lastMsgReceiptAt: w.last_msg_ms === null ? null : Math.round(w.last_msg_ms),
  };
}

/** The control plane times lease expiry by its own clock: from when it first saw this version. */
function leaseSeen(name: string, prev: NodeObservation | null, ctx: ProbeContext, at: number): NodeObservation['lease'] {
  const lease = ctx.leases?.get(name);
  if (!lease) return null;
  const changedSeenAt = prev?.lease && prev.lease.version === lease.version ? prev.lease.changedSeenAt : at;
  return { version: lease.version, term: lease.term, changedSeenAt, members: lease.members ? [...lease.members] : null, ttlMs: lease.ttlMs ?? null, ...(lease.selfFenced ? { selfFenced: lease.selfFenced } : {}) };
}

const receiverKey = (r: WalReceiver | null): string => (r ? `${r.status}:${r.upstream ?? ''}` : 'none');

/** Keep the time the receiver entered its current state while it stays there. */
function receiverSince(prev: NodeObservation | null, now: WalReceiver | null, at: number): number {
  if (prev && receiverKey(prev.walReceiver) === receiverKey(now) && prev.receiverSince !== null) return prev.receiverSince;
  return at;
}
