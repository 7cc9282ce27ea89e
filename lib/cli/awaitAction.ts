import type { DecisionEvent } from '../domain/events.ts';
import { readDecisions } from '../store/decisionLog.ts';
import type { Store } from '../store/store.ts';

const POLL_MS = 250;

/** Follow the log after `afterSeq` until the intent `intentId` is answered; null on timeout. */
export async function awaitAction(store: Store, cluster: string, afterSeq: number, intentId: string, timeoutMs: number): Promise<Extract<DecisionEvent, { type: 'ActionSucceeded' | 'ActionFailed' }> | null> {
  const until = Date.now() + timeoutMs;
  let seq = afterSeq;
  while (Date.now() < until) {
    const read = await readDecisions(store, cluster, { afterSeq: seq });
    if (read.ok) {
      for (const item of read.items) {
        seq = item.seq;
        for (const e of item.events) if ((e.type === 'ActionSucceeded' || e.type === 'ActionFailed') && e.intent.id === intentId) return e;
      }
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return null;
}
