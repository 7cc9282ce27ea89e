import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DecisionEvent } from '../domain/events.ts';
import { parseWith } from '../domain/parse.ts';
import { keyOf, queryAll, type PageOptions, type StoredItem, type Unreadable } from './queryPages.ts';
import { decisionKey, isValidSeq, MAX_SEQ, seqOfDecisionKey } from './sortKeys.ts';
import type { Store } from './store.ts';
import { isConditionalCheckFailed, storeFailure } from './storeFailure.ts';

/** One stored decide outcome: all of its events in one item, so it is written whole or not at all. */
const DecisionItem = z.object({
  cluster: z.string(),
  sk: z.string(),
  seq: z.number().int().min(1),
  events: z.array(DecisionEvent).min(1, 'a stored decision holds at least one event'),
  /** Lets a writer recognise its own item after a retried request. */
  writeId: z.string(),
});

export type StoredDecision = { seq: number; events: DecisionEvent[] };

export type AppendResult = { ok: true } | { ok: false; conflict: true } | { ok: false; conflict?: false; reason: string };

/**
 * Append one decide outcome at `seq`, only if no item holds that sequence yet. Losing the
 * race answers `conflict`. When the SDK retried a put whose first try landed, the conditional
 * check fails on our own item: the writeId tells it apart from a rival's.
 */
export async function appendDecision(store: Store, cluster: string, seq: number, events: DecisionEvent[]): Promise<AppendResult> {
  if (!isValidSeq(seq)) return { ok: false, reason: `append refused: sequence ${seq} is not an integer from 1 to ${MAX_SEQ}` };
  if (events.length === 0) return { ok: false, reason: 'append refused: no events (an empty decision appends nothing)' };
  const sk = decisionKey(seq);
  const writeId = randomUUID();
  try {
    await store.doc.send(
      new PutCommand({
        TableName: store.table,
        Item: { cluster, sk, seq, events, writeId },
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    );
    return { ok: true };
  } catch (err) {
    if (!isConditionalCheckFailed(err)) {
      // The put may or may not have landed: the next read of the log shows which, whole or absent.
      return { ok: false, reason: storeFailure(store, err, `appending decision ${seq} of ${cluster} (it may or may not be stored; the next read shows which)`) };
    }
  }
  try {
    const got = await store.doc.send(new GetCommand({ TableName: store.table, Key: { cluster, sk }, ConsistentRead: true }));
    return got.Item?.['writeId'] === writeId ? { ok: true } : { ok: false, conflict: true };
  } catch {
    // Someone holds the sequence and we cannot tell who: treat it as a lost race, the caller re-reads.
    return { ok: false, conflict: true };
  }
}

/** Parse one stored decision item, checking that its key and its seq agree. */
export function parseDecisionItem(item: StoredItem): { ok: true; value: StoredDecision } | { ok: false; unreadable: Unreadable } {
  const key = keyOf(item);
  const parsed = parseWith(DecisionItem, item, `decision ${key.sk}`);
  if (!parsed.ok) return { ok: false, unreadable: { key, error: parsed.reason } };
  const keySeq = seqOfDecisionKey(key.sk);
  if (keySeq !== parsed.value.seq) {
    return { ok: false, unreadable: { key, error: `decision ${key.sk}: seq attribute ${parsed.value.seq} does not match the key` } };
  }
  return { ok: true, value: { seq: parsed.value.seq, events: parsed.value.events } };
}

export type ReadDecisionsResult =
  | { ok: true; items: StoredDecision[]; unreadable: Unreadable[] }
  | { ok: false; reason: string };

/** Read the decision log in sequence order, after `afterSeq` (default: from the start), up to `limit` items. */
export async function readDecisions(
  store: Store,
  cluster: string,
  opts: { afterSeq?: number; limit?: number } & PageOptions = {},
): Promise<ReadDecisionsResult> {
  const after = opts.afterSeq ?? 0;
  if (after >= MAX_SEQ) return { ok: true, items: [], unreadable: [] };
  const read = await queryAll(
    store,
    {
      KeyConditionExpression: '#c = :c AND sk BETWEEN :lo AND :hi',
      ExpressionAttributeValues: { ':c': cluster, ':lo': decisionKey(Math.max(0, Math.floor(after)) + 1), ':hi': decisionKey(MAX_SEQ) },
    },
    `reading decisions of ${cluster}`,
    { ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}), ...(opts.limit !== undefined ? { max: opts.limit } : {}) },
  );
  if (!read.ok) return read;
  const items: StoredDecision[] = [];
  const unreadable: Unreadable[] = [];
  for (const item of read.items) {
    const parsed = parseDecisionItem(item);
    if (parsed.ok) items.push(parsed.value);
    else unreadable.push(parsed.unreadable);
  }
  return { ok: true, items, unreadable };
}
