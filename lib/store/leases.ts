import { z } from 'zod';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { parseWith } from '../domain/parse.ts';
import { NodeName } from '../domain/spec.ts';
import { SelfFence } from '../domain/observation.ts';
import { type Unreadable } from './queryPages.ts';
import { leaseKey } from './sortKeys.ts';
import { leasePartition } from './partitions.ts';
import type { Store } from './store.ts';
import { isConditionalCheckFailed, storeFailure } from './storeFailure.ts';

/**
 * A node agent's lease. The control plane judges expiry by when it last saw `version` change,
 * on its own clock; `renewedAt` (the agent's clock) is for people reading the table.
 */
export const Lease = z.object({
  node: NodeName,
  term: z.number().int().min(0),
  holder: z.string().min(1),
  version: z.number().int().min(1),
  renewedAt: z.number(),
  /** The other members of the spec the agent counts at a lapse; null: it knows none (its lease then proves nothing). */
  members: z.array(NodeName).nullable().optional(),
  /** The TTL after which the agent stops a primary it can no longer renew for: the decider checks it against the spec. */
  ttlMs: z.number().int().min(1).optional(),
  /** The agent's last stop of its PostgreSQL by itself, from its fence marker, kept after the marker is cleared (the decider records each once: NodeSelfFenced). */
  selfFenced: SelfFence.nullable().optional(),
});
export type Lease = z.infer<typeof Lease>;

export type RenewRequest = { cluster: string; node: string; term: number; holder: string; renewedAt?: number; members?: readonly string[] | null; ttlMs?: number; selfFenced?: SelfFence | null };
export type RenewResult = { ok: true; version: number } | { ok: false; conflict: true; current: Lease | null } | { ok: false; conflict?: false; reason: string };

/**
 * Each lease is in a partition of its own node (partitions.ts), so IAM can let an agent write
 * its own lease and no other item.
 *
 * Renew the lease only if it still has `expectedVersion` (null: create it, only if absent).
 * On conflict, answers the lease as it now stands (null when there is none). `abortSignal` ends
 * the request early (the lease loop's own deadline, shorter than the store client's timeouts):
 * it then fails, though the store may still have taken it (the next renewal meets that version).
 */
export async function renewLease(store: Store, req: RenewRequest, expectedVersion: number | null, opts: { abortSignal?: AbortSignal } = {}): Promise<RenewResult> {
  const version = (expectedVersion ?? 0) + 1;
  const lease = parseWith(Lease, { node: req.node, term: req.term, holder: req.holder, version, renewedAt: req.renewedAt ?? Date.now(), members: req.members ? [...req.members] : null, ...(req.ttlMs !== undefined ? { ttlMs: req.ttlMs } : {}), ...(req.selfFenced ? { selfFenced: req.selfFenced } : {}) }, 'lease');
  if (!lease.ok) return lease;
  const key = { cluster: leasePartition(req.cluster, req.node), sk: leaseKey(req.node) };
  try {
    await store.doc.send(
      new PutCommand({
        TableName: store.table,
        Item: { ...key, ...lease.value },
        ...(expectedVersion === null
          ? { ConditionExpression: 'attribute_not_exists(sk)' }
          : { ConditionExpression: 'version = :expected', ExpressionAttributeValues: { ':expected': expectedVersion } }),
      }),
      opts,
    );
    return { ok: true, version };
  } catch (err) {
    if (!isConditionalCheckFailed(err)) return { ok: false, reason: storeFailure(store, err, `renewing the lease of ${req.node}`) };
  }
  try {
    const got = await store.doc.send(new GetCommand({ TableName: store.table, Key: key, ConsistentRead: true }), opts);
    if (!got.Item) return { ok: false, conflict: true, current: null };
    const current = parseWith(Lease, got.Item, `lease ${key.sk}`);
    return current.ok ? { ok: false, conflict: true, current: current.value } : { ok: false, reason: current.reason };
  } catch (err) {
    return { ok: false, reason: storeFailure(store, err, `reading the lease of ${req.node} after a conflict`) };
  }
}

export type ReadLeasesResult = { ok: true; leases: Lease[]; unreadable: Unreadable[] } | { ok: false; reason: string };

/**
 * The leases of `nodes` (the spec's members), with consistent reads: a stale read would show an
 * older version and make a live lease look lapsed. One GetItem per node, since each lease
 * lives in its node's own partition; a node without a lease is left out.
 */
export async function readLeases(store: Store, cluster: string, nodes: readonly string[]): Promise<ReadLeasesResult> {
  const leases: Lease[] = [];
  const unreadable: Unreadable[] = [];
  try {
    const got = await Promise.all(
      nodes.map((node) => store.doc.send(new GetCommand({ TableName: store.table, Key: { cluster: leasePartition(cluster, node), sk: leaseKey(node) }, ConsistentRead: true }))),
    );
    got.forEach((g, i) => {
      if (!g.Item) return;
      const key = { cluster: leasePartition(cluster, nodes[i]!), sk: leaseKey(nodes[i]!) };
      const parsed = parseWith(Lease, g.Item, `lease ${key.cluster}`);
      if (parsed.ok) leases.push(parsed.value);
      else unreadable.push({ key, error: parsed.reason });
    });
  } catch (err) {
    return { ok: false, reason: storeFailure(store, err, `reading leases of ${cluster}`) };
  }
  return { ok: true, leases, unreadable };
}
