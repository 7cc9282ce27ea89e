import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readServerState } from '../serverState.ts';
import type { Fenced } from '../fenceMarker.ts';
import { defineAction, type ActionContext } from './actionTypes.ts';
import { answers, Term } from './wire.ts';

/** pg_controldata states of a data directory a standby left (stopped cleanly, or at once). */
export const STANDBY_STOPPED = new Set(['shut down in recovery', 'in archive recovery']);

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
    const started = await startStandbyAsItWas(ctx, await ctx.fence.get());
    if (!started.ok) return started;
    return { ok: true, reason: 'started in recovery as it was', started: true, replayLsn: started.replayLsn };
  },
});

/**
 * A stopped standby's data directory started in recovery, as it was. Never over a fence marker
 * (a fenced node starts only by follow or rewind, which choose its upstream), and never a data
 * directory that a standby did not leave (no standby.signal, or a primary's control file).
 */
export async function startStandbyAsItWas(ctx: ActionContext, fenced: Fenced | null): Promise<{ ok: true; replayLsn: string | null } | { ok: false; reason: string }> {
  if (fenced !== null) return { ok: false, reason: `fenced at term ${fenced.term} (${fenced.why}): it starts only by a follow or rewind` };
  const cd = await ctx.pg.controlData();
  if ('error' in cd) return { ok: false, reason: `its control file cannot be read: ${cd.error}` };
  if (!STANDBY_STOPPED.has(cd.state) || !existsSync(join(ctx.pg.dataDir, 'standby.signal'))) {
    return { ok: false, reason: `its data directory was not left by a standby (control file: ${cd.state}): not started` };
  }
  const started = await ctx.pg.start();
  const after = started.ok ? await readServerState(ctx.pg) : null;
  if (!started.ok || after?.inRecovery !== true) {
    return { ok: false, reason: `its standby data directory could not be started in recovery: ${started.ok ? (after?.why ?? 'it did not come up in recovery') : started.reason}` };
  }
  ctx.log({ level: 'warn', msg: 'started a stopped standby in recovery', state: cd.state, replayLsn: after.replayLsn });
  return { ok: true, replayLsn: after.replayLsn };
}
