import { readDecisions } from '../../lib/store/decisionLog.ts';
import type { LocalPipeline } from '../../lib/local/localPipeline.ts';
import { waitFor } from './waitFor.ts';

/** How many decisions the log holds: what "nothing changed" is checked against. */
export async function decisionCount(p: LocalPipeline): Promise<number> {
  const read = await readDecisions(p.store, 'local');
  if (!read.ok) throw new Error(read.reason);
  return read.items.length;
}

/** Wait until the log has stopped growing for `quietMs`: the cluster has settled. */
export async function settledCount(p: LocalPipeline, quietMs = 1_500, timeoutMs = 30_000): Promise<number> {
  let last = -1;
  let since = Date.now();
  return waitFor(
    'the decision log to settle',
    async () => {
      const n = await decisionCount(p);
      if (n !== last) {
        last = n;
        since = Date.now();
        return false;
      }
      return Date.now() - since >= quietMs ? n : false;
    },
    timeoutMs,
    250,
  );
}
