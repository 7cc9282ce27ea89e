import type { DecisionEvent } from '../../lib/domain/events.ts';
import { readDecisions } from '../../lib/store/decisionLog.ts';
import { latestObservations } from '../../lib/store/observations.ts';
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

const OPERATOR_TYPES = new Set(['FailoverStarted', 'Paused', 'Resumed', 'NodeAdded', 'NodeRemoved']);

/**
 * The events among `events` that an operator command caused. The control loop may record health
 * meanwhile (a busy machine can blind it for a moment); a refused command must cause none.
 */
export function fromOperator(events: readonly DecisionEvent[]): DecisionEvent[] {
  return events.filter((e) => OPERATOR_TYPES.has(e.type) || e.reason.includes('(pgvigil cli)'));
}

/** The events appended after the first `count` decisions. */
export async function eventsAfter(p: LocalPipeline, count: number): Promise<DecisionEvent[]> {
  const read = await readDecisions(p.store, 'local', { afterSeq: count });
  if (!read.ok) throw new Error(read.reason);
  return read.items.flatMap((i) => i.events);
}

/**
 * Wait as `waitFor` does; on a timeout, first print what the decider recorded since `since` (and
 * the last probe round's view of each node), so a failure seen once in CI can be read afterwards.
 */
export async function waitExplained<T>(p: LocalPipeline & { events: readonly DecisionEvent[] }, since: number, what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number): Promise<T> {
  return waitFor(what, check, timeoutMs).catch(async (e: Error) => {
    const lines = p.events.filter((x) => x.at >= since).map((ev) => `  +${ev.at - since} ms t${ev.term} ${ev.type}${'intent' in ev ? ` ${ev.intent.id}` : ''}: ${ev.reason}`);
    const seen = await latestObservations(p.store, p.spec.cluster, Date.now() - 10_000);
    const obs = seen.ok ? seen.observations.map((o) => `  ${JSON.stringify(o)}`).join('\n') : seen.reason;
    process.stderr.write(`while waiting for ${what}, the decider recorded:\n${lines.join('\n') || '  (nothing)'}\nstate: ${JSON.stringify(await p.state())}\nnewest observations:\n${obs}\n`);
    throw e;
  });
}
