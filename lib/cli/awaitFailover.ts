import type { DecisionEvent } from '../domain/events.ts';
import { readDecisions } from '../store/decisionLog.ts';
import type { Store } from '../store/store.ts';
import { decisionLine, eventLabel } from './decisionLines.ts';

export type FailoverOutcome =
  | { outcome: 'completed' | 'aborted'; event: DecisionEvent; events: DecisionEvent[] }
  | { outcome: 'timeout' | 'unreadable'; reason: string; events: DecisionEvent[] };

const POLL_MS = 250;
const QUIET_NOTE_MS = 5_000;

/**
 * Follow the log after `afterSeq` until the change of primary of `term` completes or is
 * aborted, printing each of its steps as it is decided, and a note when nothing moves for a while.
 */
export async function awaitFailover(
  store: Store,
  cluster: string,
  afterSeq: number,
  term: number,
  timeoutMs: number,
  progress: (line: string) => void,
): Promise<FailoverOutcome> {
  const started = Date.now();
  const events: DecisionEvent[] = [];
  let seq = afterSeq;
  let lastNews = started;
  let lastNote = started;
  for (;;) {
    const read = await readDecisions(store, cluster, { afterSeq: seq });
    if (read.ok) {
      for (const item of read.items) {
        seq = item.seq;
        for (const e of item.events) {
          if (e.term !== term) continue;
          events.push(e);
          lastNews = Date.now();
          progress(`  ${decisionLine(e)}`);
          if (e.type === 'FailoverCompleted' || e.type === 'FailoverAborted') return { outcome: e.type === 'FailoverCompleted' ? 'completed' : 'aborted', event: e, events };
        }
      }
    }
    const now = Date.now();
    if (now - started > timeoutMs) {
      return { outcome: 'timeout', reason: `no outcome for term ${term} after ${Math.round(timeoutMs / 1000)} s`, events };
    }
    if (now - lastNews >= QUIET_NOTE_MS && now - lastNote >= QUIET_NOTE_MS) {
      lastNote = now;
      const last = events.at(-1);
      const why = read.ok ? `last step: ${last ? `${eventLabel(last)} ${last.reason}` : 'none yet'}` : `the store does not answer: ${read.reason}`;
      progress(`  … still waiting (${Math.round((now - started) / 1000)} s); ${why}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
