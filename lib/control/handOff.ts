import type { ClusterState } from '../domain/state.ts';
import { settleClaim, takeClaim } from '../store/claims.ts';
import type { Store } from '../store/store.ts';
import type { Log } from '../log.ts';
import { HANDOFF_HOLD_MS } from './actTiming.ts';
import type { ActInvoke } from './lambdaEvents.ts';
import type { Invoke } from './lambdaInvoke.ts';

/**
 * The claim key of one request of an intent. An intent's id is the same each time the decider
 * asks it again (its term, action and node), so the time it was asked tells a retry after a
 * failure, which must be handed on at once, from the same request seen by another decide run.
 */
export const handOffKey = (intentId: string, requestedAt: number): string => `A#${intentId}@${requestedAt}`;

/**
 * decide's side of the act function: each pending intent is handed on once per hold (a claim
 * in the store), by an asynchronous invoke that Lambda queues and answers at once. Every
 * decide run sees every pending intent, so without the claim each observation batch during a
 * 120 s rewind would start another act on the same rewind. A hand-off Lambda refused is
 * released, so the next decide run (an observation, the tick) tries again.
 */
export function handOffToAct(o: { store: Store; invoke: Invoke; actFunction: string; owner: string; clock: () => number; log: Log }) {
  return async (cluster: string, pending: ClusterState['pending']): Promise<void> => {
    await Promise.all(
      pending.map(async ({ intent, requestedAt }) => {
        const key = handOffKey(intent.id, requestedAt);
        const claim = await takeClaim(o.store, cluster, key, { owner: o.owner, now: o.clock(), holdMs: HANDOFF_HOLD_MS });
        if (!claim.ok) return o.log({ level: 'warn', msg: 'intent not handed to act', cluster, intent: intent.id, reason: claim.reason });
        if (!claim.claimed) return;
        const payload: ActInvoke = { source: 'pgvigil.decide', cluster, intentId: intent.id, requestedAt };
        const sent = await o.invoke(o.actFunction, payload, 'Event');
        if (sent.ok) return o.log({ level: 'info', msg: 'intent handed to act', cluster, intent: intent.id, action: intent.action, node: intent.node });
        o.log({ level: 'warn', msg: 'intent not handed to act', cluster, intent: intent.id, reason: sent.reason });
        await settleClaim(o.store, cluster, key, o.owner, 'released');
      }),
    );
  };
}
