import { z } from 'zod';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { parseWith } from '../domain/parse.ts';
import { NodeName } from '../domain/spec.ts';
import { leasePartition } from './partitions.ts';
import { wakeKey } from './sortKeys.ts';
import type { Store } from './store.ts';
import { storeFailure } from './storeFailure.ts';

/**
 * An agent's request that the control plane probe its cluster now: its own PostgreSQL stopped
 * answering, or the primary it streams from did. A wake carries no authority: the probe looks
 * with its own eyes and decide judges only what the probe writes, so a forged or mistaken wake
 * costs one probe run and nothing else. In the node's own lease partition (partitions.ts), which
 * only that node's agent may write; the table's stream delivers each put to the probe function.
 */
export const Wake = z.object({
  node: NodeName,
  /** ms since epoch, by the agent's clock: for people reading the table, never for a time limit. */
  at: z.number(),
  /** What the agent saw, e.g. "postgres: connection refused". Never a secret. */
  reason: z.string().min(1).max(300),
  /** Counts this agent's wakes since it started: each put changes the item, so the stream carries each. */
  seq: z.number().int().min(1),
});
export type Wake = z.infer<typeof Wake>;

type Failure = { ok: false; reason: string };

export async function putWake(store: Store, cluster: string, wake: Wake): Promise<{ ok: true } | Failure> {
  const parsed = parseWith(Wake, wake, 'wake');
  if (!parsed.ok) return parsed;
  try {
    await store.doc.send(new PutCommand({ TableName: store.table, Item: { cluster: leasePartition(cluster, wake.node), sk: wakeKey(wake.node), ...parsed.value } }));
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: storeFailure(store, err, `writing the wake of ${wake.node}`) };
  }
}

/** The last wake of each of `nodes` that has one (a node whose agent never woke the probe is left out). */
export async function readWakes(store: Store, cluster: string, nodes: readonly string[]): Promise<{ ok: true; wakes: Wake[] } | Failure> {
  try {
    const got = await Promise.all(nodes.map((node) => store.doc.send(new GetCommand({ TableName: store.table, Key: { cluster: leasePartition(cluster, node), sk: wakeKey(node) } }))));
    const wakes: Wake[] = [];
    for (const g of got) {
      if (!g.Item) continue;
      const parsed = parseWith(Wake, g.Item, 'wake');
      if (parsed.ok) wakes.push(parsed.value);
    }
    return { ok: true, wakes };
  } catch (err) {
    return { ok: false, reason: storeFailure(store, err, `reading the wakes of ${cluster}`) };
  }
}
