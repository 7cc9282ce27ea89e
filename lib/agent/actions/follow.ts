import { z } from 'zod';
import { delay } from '../../postgres/pgServer.ts';
import { readServerState } from '../serverState.ts';
import { slotName } from '../../postgres/standbyConf.ts';
import { defineAction, type ActionContext } from './actionTypes.ts';
import { answers, Peer, Term, type Answer, type FactsOf } from './wire.ts';
import { pointAtUpstream } from './pointAtUpstream.ts';

/** Re-point this standby (or a cleanly stopped old primary) at the primary of `term`. */
export const follow = defineAction({
  schema: z
    .object({
      term: Term,
      primary: Peer,
      streamWaitMs: z.number().int().min(100).max(120_000).default(15_000),
      /**
       * Follow a node still in recovery: the control plane re-points synchronous standbys at the
       * candidate before promoting it, so the old primary can't regain a commit quorum.
       */
      allowStandbyUpstream: z.boolean().default(false),
      /** false: answer once re-pointed, without waiting for streaming (detaching in a failover). */
      awaitStreaming: z.boolean().default(true),
    })
    .strict(),
  answer: answers.follow,
  term: 'required',
  async run(ctx, input) {
    const result = await pointAtUpstream(ctx, input.primary, {
      slot: slotName(ctx.config.node),
      allowStandbyUpstream: input.allowStandbyUpstream,
      streamWaitMs: input.streamWaitMs,
      awaitStreaming: input.awaitStreaming,
    });
    if (result.ok || input.awaitStreaming) return result;
    // Detaching is what the failover needs; following the candidate is only the fast way to
    // it. When this node can't follow the candidate yet, stop it following anyone: the old
    // primary then can't count on it, and the control plane re-points it after the promotion.
    const detached = await detachFromUpstream(ctx);
    return detached.ok ? { ...detached, followFailed: typeof result['detail'] === 'string' ? `${result.reason} (${result['detail']})` : result.reason } : { ok: false, reason: `${result.reason}; and detaching failed: ${detached.reason}` };
  },
});

async function detachFromUpstream(ctx: ActionContext): Promise<Answer<FactsOf<'follow'>>> {
  const { pg } = ctx;
  const set = await pg.sql("ALTER SYSTEM SET primary_conninfo = ''", [], 5_000);
  if (!set.ok) return { ok: false, reason: `ALTER SYSTEM: ${set.reason}` };
  const reload = await pg.sql('SELECT pg_reload_conf()', [], 5_000);
  if (!reload.ok) return { ok: false, reason: `reload: ${reload.reason}` };
  const deadline = Date.now() + 5_000;
  for (;;) {
    const state = await readServerState(pg);
    if (state.primaryConninfo === null && state.receiver === null) return { ok: true, reason: 'detached: follows no one until re-pointed', changed: true };
    if (Date.now() > deadline) return { ok: false, reason: `the WAL receiver still runs (${state.receiver?.status ?? '?'}) after clearing primary_conninfo` };
    await delay(50);
  }
}
