import { z } from 'zod';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { parseWith } from '../domain/parse.ts';
import { ClusterState } from '../domain/state.ts';
import { keyOf, queryAll, type PageOptions, type Unreadable } from './queryPages.ts';
import { isValidSeq, MAX_SEQ, SNAPSHOT_PREFIX, snapshotKey } from './sortKeys.ts';
import type { Store } from './store.ts';
import { storeFailure } from './storeFailure.ts';

/** The folded state after decision `seq`: replay starts here instead of at the beginning. */
const SnapshotItem = z.object({
  cluster: z.string(),
  sk: z.string(),
  seq: z.number().int().min(1),
  state: ClusterState,
});

export type Snapshot = { seq: number; state: ClusterState };

export async function putSnapshot(store: Store, cluster: string, seq: number, state: ClusterState): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (!isValidSeq(seq)) return { ok: false, reason: `snapshot refused: sequence ${seq} is not an integer from 1 to ${MAX_SEQ}` };
  if (state.cluster !== cluster) return { ok: false, reason: `snapshot refused: state is of cluster "${state.cluster}", not "${cluster}"` };
  try {
    // Unconditional: a snapshot at a sequence is a function of the log, so a rewrite is the same value.
    await store.doc.send(new PutCommand({ TableName: store.table, Item: { cluster, sk: snapshotKey(seq), seq, state } }));
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: storeFailure(store, err, `writing the snapshot at ${seq} of ${cluster}`) };
  }
}

export type LatestSnapshotResult = { ok: true; snapshot: Snapshot | null; unreadable: Unreadable[] } | { ok: false; reason: string };

/**
 * The newest snapshot that parses. A snapshot that doesn't (say, written before the state
 * schema changed) is reported and passed over: an older one, or the log itself, still serves.
 */
export async function latestSnapshot(store: Store, cluster: string, opts: PageOptions = {}): Promise<LatestSnapshotResult> {
  const unreadable: Unreadable[] = [];
  let below = MAX_SEQ + 1;
  const pageSize = opts.pageSize ?? 4;
  for (;;) {
    if (below <= 1) return { ok: true, snapshot: null, unreadable };
    const read = await queryAll(
      store,
      {
        KeyConditionExpression: '#c = :c AND sk BETWEEN :lo AND :hi',
        ExpressionAttributeValues: { ':c': cluster, ':lo': snapshotKey(1), ':hi': snapshotKey(below - 1) },
        ScanIndexForward: false,
      },
      `reading the latest snapshot of ${cluster}`,
      { pageSize, max: pageSize },
    );
    if (!read.ok) return read;
    for (const item of read.items) {
      const key = keyOf(item);
      const parsed = parseWith(SnapshotItem, item, `snapshot ${key.sk}`);
      if (parsed.ok && key.sk === snapshotKey(parsed.value.seq) && parsed.value.state.cluster === cluster) {
        return { ok: true, snapshot: { seq: parsed.value.seq, state: parsed.value.state }, unreadable };
      }
      unreadable.push({ key, error: parsed.ok ? `snapshot ${key.sk}: seq or cluster does not match the key` : parsed.reason });
    }
    if (read.items.length < pageSize) return { ok: true, snapshot: null, unreadable };
    const last = read.items[read.items.length - 1];
    below = last ? Number(String(last['sk']).slice(SNAPSHOT_PREFIX.length)) : 1;
    if (!Number.isInteger(below)) return { ok: true, snapshot: null, unreadable };
  }
}
