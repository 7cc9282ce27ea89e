import { z } from 'zod';
import { readServerState } from '../serverState.ts';
import { defineAction } from './actionTypes.ts';
import { startStopped } from './startStopped.ts';
import { answers, Term } from './wire.ts';

/**
 * Start this stopped standby in recovery, as it was: its upstream setting unchanged. The
 * control plane asks this when no primary is in sight for a follow (a host power-cycled during
 * a partition): in recovery it takes no write, and once it answers its WAL is seen again, so
 * it can be a failover candidate. A running server is left as it is.
 */
export const start = defineAction({
  schema: z.object({ term: Term }).strict(),
  answer: answers.start,
  term: 'required',
  async run(ctx) {
    const state = await readServerState(ctx.pg);
    if (state.running) {
      if (!state.answering) return { ok: false, reason: `PostgreSQL runs but does not answer (${state.why}): not touched` };
      return { ok: true, reason: `already running as ${state.inRecovery ? 'a standby' : 'a primary'}`, started: false, replayLsn: state.replayLsn };
    }
    // A fenced node starts only by a follow or rewind, which choose its upstream.
    const fenced = await ctx.fence.get();
    if (fenced !== null) return { ok: false, reason: `fenced at term ${fenced.term} (${fenced.why}): it starts only by a follow or rewind` };
    const started = await startStopped(ctx, 'standby', null);
    if (!started.ok) return { ok: false, reason: `not started: ${started.reason}` };
    ctx.log({ level: 'warn', msg: 'started a stopped standby in recovery', replayLsn: started.after.replayLsn });
    return { ok: true, reason: 'started in recovery as it was', started: true, replayLsn: started.after.replayLsn };
  },
});
