import { BatchWriteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { parseWith } from '../domain/parse.ts';
import { NodeObservation } from '../domain/observation.ts';
import { keyOf, queryAll, type PageOptions, type StoredItem, type Unreadable } from './queryPages.ts';
import { isValidAt, observationKey, observationRange, OBSERVATION_PREFIX } from './sortKeys.ts';
import { clusterOfPartition, observationsPartition } from './partitions.ts';
import type { Store } from './store.ts';
import { storeFailure } from './storeFailure.ts';

type Failure = { ok: false; reason: string };
export type ObservationsResult = { ok: true; observations: NodeObservation[]; unreadable: Unreadable[] } | Failure;

/**
 * Store one observation as written by the prober (which decides when to write: on change or
 * heartbeat). Keyed by time, node and prober; `expiresAt` (epoch seconds) lets DynamoDB's TTL
 * delete it, counted from the prober's `at` so the store reads no clock of its own. In the
 * cluster's observations partition, which only the probe may write (partitions.ts).
 */
export async function putObservation(store: Store, obs: NodeObservation, ttlMs: number): Promise<{ ok: true } | Failure> {
  const parsed = parseWith(NodeObservation, obs, 'observation');
  if (!parsed.ok) return parsed;
  if (!isValidAt(obs.at)) return { ok: false, reason: `observation: at: ${obs.at} is not a time in ms since epoch` };
  if (!(ttlMs > 0)) return { ok: false, reason: `observation ttl: ${ttlMs} ms must be positive` };
  const expiresAt = Math.ceil((obs.at + ttlMs) / 1000);
  try {
    await store.doc.send(
      new PutCommand({ TableName: store.table, Item: { ...parsed.value, cluster: observationsPartition(parsed.value.cluster), sk: observationKey(obs.at, obs.node, obs.prober), expiresAt } }),
    );
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: storeFailure(store, err, `writing the observation of ${obs.node} by ${obs.prober}`) };
  }
}

function parseObservations(items: StoredItem[]): { observations: NodeObservation[]; unreadable: Unreadable[] } {
  const observations: NodeObservation[] = [];
  const unreadable: Unreadable[] = [];
  for (const item of items) {
    const key = keyOf(item);
    const parsed = parseWith(NodeObservation, { ...item, cluster: clusterOfPartition(key.cluster) }, `observation ${key.sk}`);
    if (parsed.ok) observations.push(parsed.value);
    else unreadable.push({ key, error: parsed.reason });
  }
  return { observations, unreadable };
}

/** Observations with fromMs <= at <= toMs, oldest first. */
export async function readObservations(store: Store, cluster: string, fromMs: number, toMs: number, opts: PageOptions = {}): Promise<ObservationsResult> {
  if (toMs < fromMs) return { ok: true, observations: [], unreadable: [] };
  const { lo, hi } = observationRange(fromMs, toMs);
  const read = await queryAll(
    store,
    { KeyConditionExpression: '#c = :c AND sk BETWEEN :lo AND :hi', ExpressionAttributeValues: { ':c': observationsPartition(cluster), ':lo': lo, ':hi': hi } },
    `reading observations of ${cluster}`,
    opts,
  );
  if (!read.ok) return read;
  return { ok: true, ...parseObservations(read.items) };
}

/** The newest observation of each node, whichever prober wrote it. Ties keep the later-read one. */
export function newestPerNode(observations: readonly NodeObservation[]): NodeObservation[] {
  const newest = new Map<string, NodeObservation>();
  for (const obs of observations) {
    const seen = newest.get(obs.node);
    if (!seen || obs.at >= seen.at) newest.set(obs.node, obs);
  }
  return [...newest.values()].sort((a, b) => a.node.localeCompare(b.node));
}

/**
 * How far back decide (and a prober resuming its counts) looks for each node's latest
 * observation. Observations are rewritten at least every heartbeat, so this only needs to
 * exceed the spec's staleness bound.
 */
export const OBSERVATION_WINDOW_MS = 60_000;

/** One observation per node: the newest written since `sinceMs`. */
export async function latestObservations(store: Store, cluster: string, sinceMs: number, opts: PageOptions = {}): Promise<ObservationsResult> {
  const read = await readObservations(store, cluster, sinceMs, Number.MAX_SAFE_INTEGER, opts);
  if (!read.ok) return read;
  return { ok: true, observations: newestPerNode(read.observations), unreadable: read.unreadable };
}

const BATCH = 25;
const MAX_UNPROCESSED_ROUNDS = 10;

/**
 * Delete observations older than `olderThanMs`. DynamoDB's TTL does this on AWS; dynalite
 * has no TTL, so local mode calls this. Deletes by key only, so unparseable items go too.
 */
export async function pruneObservations(store: Store, cluster: string, olderThanMs: number, opts: PageOptions = {}): Promise<{ ok: true; deleted: number } | Failure> {
  if (olderThanMs <= 0) return { ok: true, deleted: 0 };
  const { lo, hi } = observationRange(0, olderThanMs - 1);
  const read = await queryAll(
    store,
    {
      KeyConditionExpression: '#c = :c AND sk BETWEEN :lo AND :hi',
      ExpressionAttributeValues: { ':c': observationsPartition(cluster), ':lo': lo < OBSERVATION_PREFIX ? OBSERVATION_PREFIX : lo, ':hi': hi },
      ProjectionExpression: '#c, sk',
    },
    `finding old observations of ${cluster}`,
    opts,
  );
  if (!read.ok) return read;
  let deleted = 0;
  for (let i = 0; i < read.items.length; i += BATCH) {
    let requests = read.items.slice(i, i + BATCH).map((item) => ({ DeleteRequest: { Key: keyOf(item) } }));
    for (let round = 0; requests.length > 0; round++) {
      if (round >= MAX_UNPROCESSED_ROUNDS) return { ok: false, reason: `pruning observations of ${cluster}: the store kept ${requests.length} deletes unprocessed; retry later` };
      try {
        const out = await store.doc.send(new BatchWriteCommand({ RequestItems: { [store.table]: requests } }));
        const left = (out.UnprocessedItems?.[store.table] ?? []).flatMap((r) => (r.DeleteRequest?.Key ? [{ DeleteRequest: { Key: keyOf(r.DeleteRequest.Key) } }] : []));
        deleted += requests.length - left.length;
        requests = left;
      } catch (err) {
        return { ok: false, reason: storeFailure(store, err, `pruning observations of ${cluster}`) };
      }
    }
  }
  return { ok: true, deleted };
}
