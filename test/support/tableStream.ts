import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { leasePartition, observationsPartition } from '../../lib/store/partitions.ts';
import { decisionKey, observationRange, seqOfDecisionKey, wakeKey } from '../../lib/store/sortKeys.ts';
import type { Store } from '../../lib/store/store.ts';
import { streamRecord } from './lambdaEventShapes.ts';

type StreamInvoke = (event: { Records: unknown[] }) => Promise<unknown>;

/** What a stream-fed function answered: Lambda retries the records from the first failed one. */
const failuresOf = (answer: unknown): string[] =>
  ((answer as { batchItemFailures?: { itemIdentifier?: unknown }[] } | null)?.batchItemFailures ?? []).map((f) => String(f.itemIdentifier));

export interface StreamFeed {
  /** Batches delivered, and records in them. */
  batches: number;
  records: number;
  stop(): Promise<void>;
}

const BATCH_SIZE = 100;
const RETRIES = 3;
const POLL_MS = 250;

/**
 * dynalite has no DynamoDB Streams, so this stands in for the stream and Lambda's event source
 * mapping: it polls the table for items new since the last poll, of the kinds the stack's filters
 * pass (observations for decide, decision inserts for notify), and delivers them as stream
 * records (NEW_IMAGE) in batches of up to 100, one batch at a time, waiting for the function's
 * answer, retrying from the first reported failure up to 3 times (then the records are dropped,
 * as to the stack's DLQ). Lambda polls a shard about four times a second; so does this.
 */
function feed(next: () => Promise<Record<string, unknown>[]>, invoke: StreamInvoke, onError: (e: Error) => void): StreamFeed {
  let running = true;
  let wake: (() => void) | null = null;
  const f: StreamFeed = {
    batches: 0,
    records: 0,
    async stop() {
      running = false;
      wake?.();
      await done;
    },
  };
  const deliver = async (records: ReturnType<typeof streamRecord>[]) => {
    let left = records;
    for (let attempt = 0; attempt <= RETRIES && left.length > 0 && running; attempt++) {
      f.batches++;
      f.records += left.length;
      const failed = failuresOf(await invoke({ Records: left }).catch((e: Error) => (onError(e), { batchItemFailures: [{ itemIdentifier: left[0]!.dynamodb.SequenceNumber }] })));
      const first = left.findIndex((r) => failed.includes(r.dynamodb.SequenceNumber));
      left = first === -1 ? [] : left.slice(first);
    }
  };
  const done = (async () => {
    while (running) {
      try {
        const items = await next();
        for (let i = 0; i < items.length && running; i += BATCH_SIZE) await deliver(items.slice(i, i + BATCH_SIZE).map((item) => streamRecord(item)));
      } catch (e) {
        onError(e as Error);
      }
      if (running) await new Promise<void>((r) => ((wake = r), setTimeout(r, POLL_MS)));
    }
  })();
  return f;
}

async function query(store: Store, partition: string, lo: string, hi: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await store.doc.send(
      new QueryCommand({ TableName: store.table, KeyConditionExpression: '#pk = :c AND sk BETWEEN :lo AND :hi', ExpressionAttributeNames: { '#pk': 'cluster' }, ExpressionAttributeValues: { ':c': partition, ':lo': lo, ':hi': hi }, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    items.push(...((out.Items ?? []) as Record<string, unknown>[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * Observation inserts of a cluster, to decide. Their keys sort by observation time, and a
 * write may land after a later-timed one, so each poll reads the last minute and passes on the
 * keys it has not passed on before.
 */
export function observationStream(store: Store, cluster: string, invoke: StreamInvoke, onError: (e: Error) => void, wakes?: { nodes: () => Promise<string[]> }): StreamFeed {
  const seen = new Map<string, number>();
  // With the on-wake probe, decide's filter passes agents' wakes too: each put of a node's W# item (lib/store/wakes.ts).
  const wakePuts = new Map<string, string>();
  return feed(
    async () => {
      const now = Date.now();
      const { lo, hi } = observationRange(now - 60_000, now + 60_000);
      const fresh = (await query(store, observationsPartition(cluster), lo, hi)).filter((i) => !seen.has(String(i['sk'])));
      for (const i of fresh) seen.set(String(i['sk']), now);
      for (const [sk, at] of seen) if (at < now - 120_000) seen.delete(sk);
      if (!wakes) return fresh;
      for (const node of await wakes.nodes()) {
        const [item] = await query(store, leasePartition(cluster, node), wakeKey(node), wakeKey(node));
        if (!item) continue;
        const put = `${String(item['seq'])}@${String(item['at'])}`;
        if (wakePuts.get(node) !== put) fresh.push(item);
        wakePuts.set(node, put);
      }
      return fresh;
    },
    invoke,
    onError,
  );
}

/** Decision inserts of a cluster, in sequence order, to notify (decisions are appended, never rewritten). */
export function decisionStream(store: Store, cluster: string, invoke: StreamInvoke, onError: (e: Error) => void): StreamFeed {
  let last = 0;
  return feed(
    async () => {
      const items = await query(store, cluster, decisionKey(last + 1), 'D#~');
      for (const i of items) last = Math.max(last, seqOfDecisionKey(String(i['sk'])) ?? last);
      return items;
    },
    invoke,
    onError,
  );
}
