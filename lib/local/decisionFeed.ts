import type { DecisionEvent } from '../domain/events.ts';
import { readDecisions } from '../store/decisionLog.ts';
import type { Store } from '../store/store.ts';

export interface DecisionFollower {
  stop(): Promise<void>;
}

/**
 * Follows the decision log from `afterSeq`, calling `onItem` for each new item in order
 * with whether the cluster was paused before it: the local stand-in for the table's
 * stream feeding the notify function.
 */
export function followDecisions(
  store: Store,
  cluster: string,
  afterSeq: number,
  onItem: (seq: number, events: DecisionEvent[], pausedBefore: boolean) => void,
  pollMs = 200,
): DecisionFollower {
  let running = true;
  let seq = afterSeq;
  let paused = false;
  let wake: (() => void) | null = null;
  const done = (async () => {
    while (running) {
      const read = await readDecisions(store, cluster, { afterSeq: seq });
      if (read.ok) {
        for (const item of read.items) {
          onItem(item.seq, item.events, paused);
          for (const e of item.events) {
            if (e.type === 'Paused') paused = true;
            if (e.type === 'Resumed') paused = false;
          }
          seq = item.seq;
        }
      }
      if (running) await new Promise<void>((r) => ((wake = r), setTimeout(r, pollMs)));
    }
  })();
  return {
    async stop() {
      running = false;
      wake?.();
      await done;
    },
  };
}
