import type { Decision } from '../domain/decision.ts';
import type { DecisionEvent } from '../domain/events.ts';
import { fold } from '../domain/evolve.ts';
import type { ClusterState } from '../domain/state.ts';
import { appendDecision } from './decisionLog.ts';
import type { Unreadable } from './queryPages.ts';
import { catchUp, loadState } from './loadState.ts';
import { putSnapshot } from './snapshots.ts';
import type { Store } from './store.ts';
import type { Log } from '../log.ts';

export type CommitOptions = {
  /** Appends tried before giving up on a contended log. */
  maxAttempts?: number;
  /** A snapshot is written after every decision whose sequence is a multiple of this. */
  snapshotEvery?: number;
  /** Overrides the store's log, e.g. to collect retries in a test. */
  log?: Log;
};

export type CommitResult =
  | { ok: true; seq: number; events: DecisionEvent[]; state: ClusterState }
  /** refused: decide said no, or the log can't be read whole; nothing was appended. */
  | { ok: false; reason: string; refused: boolean; unreadable?: Unreadable[] };

const DEFAULT_MAX_ATTEMPTS = 8;
export const DEFAULT_SNAPSHOT_EVERY = 50;

/** Full jitter on a capped exponential backoff, so losers of a race don't collide again in step. */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(200, 5 * 2 ** attempt);
  return Math.floor(random() * cap);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Load the state, let `decide` choose events, append them at the next sequence. On losing the
 * race to another writer: read what it appended, decide again on the new state, retry.
 */
export async function commitDecision(
  store: Store,
  cluster: string,
  decide: (state: ClusterState) => Decision,
  opts: CommitOptions = {},
): Promise<CommitResult> {
  const maxAttempts = opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const snapshotEvery = opts.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
  const log = opts.log ?? store.log;

  let loaded = await loadState(store, cluster);
  for (let attempt = 1; ; attempt++) {
    if (!loaded.ok) return { ...loaded, refused: loaded.unreadable !== undefined };
    const { state, seq } = loaded;
    const decision = decide(state);
    if (!decision.ok) return { ok: false, reason: decision.reason, refused: true };
    if (decision.events.length === 0) return { ok: true, seq, events: [], state };

    const next = seq + 1;
    const appended = await appendDecision(store, cluster, next, decision.events);
    if (appended.ok) {
      const after = fold(state, decision.events);
      if (next % snapshotEvery === 0) await snapshot(store, cluster, next, after, log);
      return { ok: true, seq: next, events: decision.events, state: after };
    }
    if (!appended.conflict) return { ok: false, reason: appended.reason, refused: false };
    if (attempt >= maxAttempts) {
      log({ level: 'error', msg: 'decision append lost the race too often, giving up', cluster, seq: next, attempts: attempt });
      return { ok: false, reason: `decision for ${cluster} lost the race for the next sequence ${attempt} times: other writers keep appending; retry later`, refused: false };
    }
    const delayMs = retryDelayMs(attempt);
    log({ level: 'info', msg: 'decision append lost the race, re-reading and deciding again', cluster, seq: next, attempt, delayMs });
    await sleep(delayMs);
    loaded = await catchUp(store, cluster, { state, seq });
  }
}

/** A failed snapshot costs replay time, never correctness: log it and carry on. */
async function snapshot(store: Store, cluster: string, seq: number, state: ClusterState, log: Log): Promise<void> {
  const put = await putSnapshot(store, cluster, seq, state);
  if (!put.ok) log({ level: 'warn', msg: 'snapshot not written', cluster, seq, reason: put.reason });
}
