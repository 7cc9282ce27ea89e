import { z } from 'zod';
import { readServerState } from '../serverState.ts';
import { dropWriterVip, placeWriterVip } from '../writerVip.ts';
import { defineAction } from './actionTypes.ts';
import { answers, Term } from './wire.ts';

/**
 * Switchover, step one: checkpoint, stop the primary cleanly, and answer the shutdown
 * checkpoint's LSN, which the successor must replay before it is promoted. Stays
 * stopped (fenced) until follow. Again after success → the same LSN.
 */
export const demote = defineAction({
  schema: z.object({ term: Term }).strict(),
  answer: answers.demote,
  term: 'required',
  async run(ctx, input) {
    const { pg } = ctx;
    const state = await readServerState(pg);
    if (state.running) {
      if (!state.answering) return { ok: false, reason: `PostgreSQL is not answering (${state.why}): fence it instead` };
      if (state.inRecovery) return { ok: false, reason: 'this node is a standby: demote stops a primary; use fence to stop a standby' };
      // A checkpoint first makes the shutdown checkpoint quick.
      const cp = await pg.sql('CHECKPOINT', [], 30_000);
      if (!cp.ok) ctx.log({ level: 'warn', msg: 'CHECKPOINT before demote failed; stopping anyway', reason: cp.reason });
      // The writer address goes before the stop: clients stop arriving while it shuts down.
      await dropWriterVip(ctx.config.vip, ctx.log, `demote at term ${input.term}`);
      const stopped = await pg.stop('fast', 30);
      // No marker before this: a failed demote leaves the primary serving, as the switchover's abort expects,
      // so it takes its writer address back.
      if (!stopped.ok) return { ok: false, reason: `clean stop failed: ${stopped.reason}`, ...(await placeWriterVip(ctx.config.vip, ctx.log)) };
      await ctx.fence.set(input.term, `demoted for switchover at term ${input.term}`);
    }
    const cd = await pg.controlData();
    if ('error' in cd) return { ok: false, reason: cd.error };
    if (cd.state !== 'shut down') return { ok: false, reason: `PostgreSQL here is stopped but not a cleanly shut down primary (${cd.state}): demote can't give a checkpoint LSN` };
    ctx.log({ level: 'info', msg: 'demoted', term: input.term, checkpointLsn: cd.checkpointLsn });
    return { ok: true, reason: 'shut down cleanly', checkpointLsn: cd.checkpointLsn, timeline: cd.checkpointTimeline };
  },
});
