import { fold } from '../domain/evolve.ts';
import { initialState, type ClusterState } from '../domain/state.ts';
import { readDecisions } from './decisionLog.ts';
import type { PageOptions, Unreadable } from './queryPages.ts';
import { latestSnapshot } from './snapshots.ts';
import type { Store } from './store.ts';

export type LoadedState = { ok: true; state: ClusterState; seq: number };
export type LoadStateResult = LoadedState | { ok: false; reason: string; unreadable?: Unreadable[] };

function refusal(cluster: string, unreadable: Unreadable[]): string {
  const list = unreadable.map((u) => `${u.key.sk} (${u.error})`).join('; ');
  return `decision log of ${cluster} can't be read whole, so nothing is decided from it: ${unreadable.length} unreadable item(s): ${list}. Repair or restore these items, then retry`;
}

/**
 * Fold the decisions after `from.seq` into `from.state`. Refuses when any item doesn't parse
 * or a sequence is missing: acting on a partial log could undo a failover.
 */
export async function catchUp(store: Store, cluster: string, from: { state: ClusterState; seq: number }, opts: PageOptions = {}): Promise<LoadStateResult> {
  const read = await readDecisions(store, cluster, { afterSeq: from.seq, ...opts });
  if (!read.ok) return read;
  if (read.unreadable.length > 0) return { ok: false, reason: refusal(cluster, read.unreadable), unreadable: read.unreadable };
  let { state, seq } = from;
  for (const item of read.items) {
    if (item.seq !== seq + 1) {
      return {
        ok: false,
        reason: `decision log of ${cluster} has a gap: decision ${seq + 1} is missing before ${item.seq}, so nothing is decided from it. Restore the missing item, then retry`,
        unreadable: [],
      };
    }
    state = fold(state, item.events);
    seq = item.seq;
  }
  return { ok: true, state, seq };
}

/** The current state of a cluster: the latest readable snapshot plus the decisions after it. */
export async function loadState(store: Store, cluster: string, opts: PageOptions = {}): Promise<LoadStateResult> {
  const snap = await latestSnapshot(store, cluster);
  if (!snap.ok) return snap;
  for (const u of snap.unreadable) {
    store.log({ level: 'warn', msg: 'snapshot unreadable, replaying from an older point', cluster, key: u.key.sk, error: u.error });
  }
  const from = snap.snapshot ?? { state: initialState(cluster), seq: 0 };
  return catchUp(store, cluster, from, opts);
}
