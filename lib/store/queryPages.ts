import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Store } from './store.ts';
import { storeFailure } from './storeFailure.ts';

export type StoredItem = Record<string, unknown>;
export type QueryResult = { ok: true; items: StoredItem[] } | { ok: false; reason: string };

/** Options every reading function takes: a page size, mostly so tests can force several pages. */
export type PageOptions = { pageSize?: number };

/**
 * Run one Query to the end, following LastEvaluatedKey, with consistent reads.
 * `max` stops early once that many items are in hand.
 */
export async function queryAll(
  store: Store,
  input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey' | 'Limit' | 'ConsistentRead'>,
  doing: string,
  opts: PageOptions & { max?: number } = {},
): Promise<QueryResult> {
  const items: StoredItem[] = [];
  let startKey: Record<string, unknown> | undefined;
  const max = opts.max ?? Infinity;
  do {
    const remaining = max - items.length;
    const limit = Math.min(opts.pageSize ?? Infinity, remaining);
    try {
      const page = await store.doc.send(
        new QueryCommand({
          ...input,
          // "cluster" is a DynamoDB reserved word: key conditions name it #c.
          ExpressionAttributeNames: { ...input.ExpressionAttributeNames, '#c': 'cluster' },
          TableName: store.table,
          ConsistentRead: true,
          ...(Number.isFinite(limit) ? { Limit: limit } : {}),
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } catch (err) {
      return { ok: false, reason: storeFailure(store, err, doing) };
    }
  } while (startKey !== undefined && items.length < max);
  return { ok: true, items };
}

/** An item that did not parse: its key, and what was wrong, for the operator. */
export type Unreadable = { key: { cluster: string; sk: string }; error: string };

export function keyOf(item: StoredItem): { cluster: string; sk: string } {
  return { cluster: String(item['cluster']), sk: String(item['sk']) };
}
