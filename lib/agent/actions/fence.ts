import { z } from 'zod';
import { readServerState } from '../serverState.ts';
import { dropWriterVip } from '../writerVip.ts';
import { defineAction } from './actionTypes.ts';
import { answers, Term } from './wire.ts';

/**
 * Stop PostgreSQL now and keep it stopped (the fence marker) until follow, rewind or clone
 * says what this node is. Ok only when no postmaster is left: the control plane promotes
 * a successor on the strength of this answer.
 */
export const fence = defineAction({
  schema: z.object({ term: Term }).strict(),
  answer: answers.fence,
  term: 'required',
  async run(ctx, input) {
    const { pg } = ctx;
    // Marker first: from here nothing (a guard, a restart) brings PostgreSQL back.
    await ctx.fence.set(input.term, `fence action at term ${input.term}`);
    // The writer address goes before PostgreSQL stops: a fenced node never answers on it.
    const vip = await dropWriterVip(ctx.config.vip, ctx.log, `fence at term ${input.term}`);
    // Where a primary's WAL ended, as near the stop as can be read: the control plane checks an
    // operator's candidate against it (a forced failover away from a primary that was writing).
    // Bounded: a hung server must not hold up its own fence.
    const before = await readServerState(pg, 500);
    const walLsn = before.answering && before.inRecovery === false ? before.walLsn : null;
    const stopped = await pg.stopNow(2);
    if (!stopped.ok) return { ok: false, reason: `could not stop PostgreSQL: ${stopped.reason}`, ...vip };
    const verdict = await pg.ctlStatus();
    if (verdict === 'running' || (await pg.postmasterPid()) !== null) return { ok: false, reason: 'PostgreSQL still running after stop', ...vip };
    ctx.log({ level: 'warn', msg: 'fenced', term: input.term, how: stopped.how });
    return { ok: true, reason: stopped.how === 'not running' ? 'PostgreSQL was not running; fenced' : `PostgreSQL stopped (${stopped.how}); fenced`, stoppedBy: stopped.how, walLsn, ...vip };
  },
});
