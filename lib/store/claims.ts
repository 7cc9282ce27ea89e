import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Store } from './store.ts';
import { isConditionalCheckFailed, storeFailure } from './storeFailure.ts';

/**
 * Claims: "this piece of work is mine until then, or done". They make a retried stream batch
 * or a repeated decide run do a side effect once: notify's alert for a decision event, decide's
 * hand-off of an intent to the act function. They live in a partition of their own,
 * `claims#<cluster>` (cluster names hold no '#'), so IAM can let notify write claims by
 * `dynamodb:LeadingKeys` and nothing else of the cluster's items (decisions stay decide's).
 */
export const CLAIMS_PARTITION_PREFIX = 'claims#';
export const claimsPartition = (cluster: string): string => `${CLAIMS_PARTITION_PREFIX}${cluster}`;

/** How long a claim item is kept after it was last taken (DynamoDB's TTL deletes it; dynalite keeps it). */
const KEEP_SECONDS = 7 * 86_400;

export type ClaimResult =
  | { ok: true; claimed: true }
  /** Someone holds it until `until` (ms), or it is done. */
  | { ok: true; claimed: false; done: boolean; until: number }
  | { ok: false; reason: string };

/**
 * Take `key` for `holdMs` unless it is done, or held (by anyone, the asker too) until later.
 * A hold that runs out (its owner died mid-work) can be taken again: the work is done at least
 * once, and once unless its owner died between doing it and settling the claim.
 */
export async function takeClaim(store: Store, cluster: string, key: string, o: { owner: string; now: number; holdMs: number }): Promise<ClaimResult> {
  const Key = { cluster: claimsPartition(cluster), sk: key };
  try {
    await store.doc.send(
      new PutCommand({
        TableName: store.table,
        Item: { ...Key, owner: o.owner, until: o.now + o.holdMs, done: false, expiresAt: Math.ceil(o.now / 1000) + KEEP_SECONDS },
        ConditionExpression: 'attribute_not_exists(sk) OR (done = :no AND #until < :now)',
        ExpressionAttributeNames: { '#until': 'until' },
        ExpressionAttributeValues: { ':no': false, ':now': o.now },
      }),
    );
    return { ok: true, claimed: true };
  } catch (err) {
    if (!isConditionalCheckFailed(err)) return { ok: false, reason: storeFailure(store, err, `taking claim ${key} of ${cluster}`) };
  }
  try {
    const got = await store.doc.send(new GetCommand({ TableName: store.table, Key, ConsistentRead: true }));
    return { ok: true, claimed: false, done: got.Item?.['done'] === true, until: Number(got.Item?.['until'] ?? 0) };
  } catch (err) {
    return { ok: false, reason: storeFailure(store, err, `reading claim ${key} of ${cluster}`) };
  }
}

/**
 * The owner's word on its claim: `done` (never to be done again) or `released` (the work
 * failed: anyone may take it at once). A claim taken over by another owner is left as it is.
 */
export async function settleClaim(store: Store, cluster: string, key: string, owner: string, how: 'done' | 'released'): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await store.doc.send(
      new UpdateCommand({
        TableName: store.table,
        Key: { cluster: claimsPartition(cluster), sk: key },
        UpdateExpression: how === 'done' ? 'SET done = :yes' : 'SET #until = :zero',
        ConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: { '#owner': 'owner', ...(how === 'done' ? {} : { '#until': 'until' }) },
        ExpressionAttributeValues: { ':owner': owner, ...(how === 'done' ? { ':yes': true } : { ':zero': 0 }) },
      }),
    );
    return { ok: true };
  } catch (err) {
    if (isConditionalCheckFailed(err)) return { ok: true };
    return { ok: false, reason: storeFailure(store, err, `settling claim ${key} of ${cluster}`) };
  }
}
