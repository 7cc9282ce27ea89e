import { parseSyncNames } from './syncNames.ts';

/**
 * Where a new standby copies its data from (issue 14 item 1): a healthy streaming standby when
 * one exists, else the primary. Pure: the bootstrap gathers what it sees of its peers (each one's
 * role over TLS, and the primary's pg_stat_replication and synchronous_standby_names) and this
 * file alone decides. The new node streams from the primary whichever it copies, through its
 * own slot made on the primary first.
 *
 * The rule, and why:
 * - A standby qualifies when it answers as a standby, the primary lists it as `streaming`
 *   (so it follows the primary directly, not through a cascade), and it is at most
 *   `maxLagBytes` behind in replay. A standby far behind is catching up itself; a copy of it
 *   starts the new node as far behind, and the copy's reads slow its catching up further.
 * - Not a synchronous standby the commit quorum needs. The copy reads the whole data
 *   directory from the source's disk and streams its WAL; on a standby whose acknowledgement
 *   every commit waits for, that contention is every commit's latency, and losing it (a
 *   failed disk under the load) stops commits. With `ANY k (…)`, a member is needed when no
 *   more than k members stream; with `FIRST k (…)`, the ones the primary reports as `sync`.
 *   An unreadable setting counts every member as needed.
 * - Least lag wins, then the peers' order. None qualifies: the primary, saying why each
 *   standby was passed over.
 *
 * PostgreSQL's limits on a copy from a standby (pg_basebackup docs): full_page_writes on
 * the primary (our default), the copy fails if the standby is promoted meanwhile (the
 * bootstrap then copies the primary), and WAL is not archived at its end (-X stream carries it).
 */

export interface ClonePeerSeen {
  name: string;
  role: 'primary' | 'standby' | 'unreachable';
}

/** One row of the primary's pg_stat_replication, by application_name (the node's name). */
export interface ReplicaSeen {
  name: string;
  state: string;
  syncState: string;
  /** Bytes of WAL the primary has written and this standby has not replayed; null: unknown. */
  replayLagBytes: number | null;
}

export interface CloneView {
  primary: string;
  peers: ClonePeerSeen[];
  replicas: ReplicaSeen[];
  /** The primary's synchronous_standby_names as it reports it. */
  synchronousStandbyNames: string;
  maxLagBytes: number;
}

export interface CloneSource {
  /** The node to copy from: a standby, or the primary. */
  source: string;
  /** The node to stream from afterwards: always the primary. */
  upstream: string;
  why: string;
}

/** The default lag limit: one WAL segment. */
export const CLONE_SOURCE_MAX_LAG_BYTES = 16 * 1024 * 1024;

export function chooseCloneSource(view: CloneView): CloneSource {
  const passed: string[] = [];
  const fit: Array<{ name: string; lag: number; order: number }> = [];
  const needed = quorumNeeds(view);
  view.peers.forEach((peer, order) => {
    if (peer.name === view.primary) return;
    const why = unfit(peer, view, needed);
    if (why) passed.push(`${peer.name}: ${why}`);
    else fit.push({ name: peer.name, lag: replicaOf(view, peer.name)!.replayLagBytes!, order });
  });
  const best = fit.sort((a, b) => a.lag - b.lag || a.order - b.order)[0];
  const others = passed.length > 0 ? ` (passed over: ${passed.join('; ')})` : '';
  if (!best) {
    const none = view.peers.length > 1 ? 'no standby qualifies' : 'no other peer';
    return { source: view.primary, upstream: view.primary, why: `copied from the primary ${view.primary}: ${none}${others}` };
  }
  return {
    source: best.name,
    upstream: view.primary,
    why: `copied from the standby ${best.name} (streams from ${view.primary}, ${best.lag} bytes behind) so the primary serves no base backup; then streams from ${view.primary}${others}`,
  };
}

function replicaOf(view: CloneView, name: string): ReplicaSeen | undefined {
  return view.replicas.find((r) => r.name === name);
}

function unfit(peer: ClonePeerSeen, view: CloneView, needed: (name: string) => boolean): string | null {
  if (peer.role === 'unreachable') return 'does not answer';
  if (peer.role === 'primary') return 'answers as a primary too';
  const r = replicaOf(view, peer.name);
  if (!r) return `${view.primary} lists no replication from it (not streaming, or through a cascade)`;
  if (r.state !== 'streaming') return `its replication is ${r.state}`;
  if (r.replayLagBytes === null) return 'its lag is unknown';
  if (r.replayLagBytes > view.maxLagBytes) return `${r.replayLagBytes} bytes behind (limit ${view.maxLagBytes})`;
  if (needed(peer.name)) return 'a synchronous standby the commit quorum needs';
  return null;
}

/** Whether the primary's commits need this standby's acknowledgement now. */
function quorumNeeds(view: CloneView): (name: string) => boolean {
  const q = parseSyncNames(view.synchronousStandbyNames);
  if (q === null) return () => false;
  if (q === 'unparsed') return () => true;
  const members = new Set(q.names);
  if (q.method === 'first') return (name) => members.has(name.toLowerCase()) && replicaOf(view, name)?.syncState === 'sync';
  const streaming = view.replicas.filter((r) => members.has(r.name.toLowerCase()) && r.state === 'streaming').length;
  return (name) => members.has(name.toLowerCase()) && streaming <= q.k;
}
