import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { compareLsn } from '../../domain/lsn.ts';
import { Lsn } from '../../domain/observation.ts';
import { delay, tail } from '../../postgres/pgServer.ts';
import { readServerState } from '../serverState.ts';
import { placeWriterVip } from '../writerVip.ts';
import { readSyncNames, syncNamesBeforePromotion } from '../syncNamesKeeper.ts';
import type { Fenced } from '../fenceMarker.ts';
import { SELF_FENCE_PREFIX } from '../lease.ts';
import { defineAction, type ActionContext } from './actionTypes.ts';
import { answers, Term, type Answer, type FactsOf } from './wire.ts';

/**
 * Promote this standby. Already a primary → ok (a retried promote of the same term is one
 * promotion). With minLsn (switchover), first wait, bounded, until replay reaches it.
 */
export const promote = defineAction({
  schema: z
    .object({
      term: Term,
      minLsn: Lsn.nullable().optional(),
      /** How long to wait for replay to reach minLsn. */
      waitMs: z.number().int().min(0).max(120_000).default(10_000),
      /** Synchronous mode: the spec's setting, put in force before the promotion (issue 12 path 2). */
      synchronousStandbyNames: z.string().max(4_096).optional(),
    })
    .strict(),
  answer: answers.promote,
  term: 'required',
  async run(ctx, input) {
    const { pg } = ctx;
    const fenced = await ctx.fence.get();
    let state = await readServerState(pg);
    if (!state.running) {
      const back = await restartSelfFencedPrimary(ctx, input.term, fenced);
      if (back) return back;
      const standby = await startStoppedStandby(ctx, fenced);
      if (!standby.ok) return { ok: false, reason: `PostgreSQL is not running here${fenced ? ` (fenced at term ${fenced.term})` : ''}: ${standby.reason}` };
      state = await readServerState(pg);
    }
    if (!state.answering) return { ok: false, reason: `PostgreSQL is not answering (${state.why}): cannot promote` };
    if (state.inRecovery === false) {
      // A retried promote of the same term: the VIP may be what the first attempt didn't finish.
      // What it commits with now, as a probe would read it: the first attempt set it before promoting.
      const syncNames = input.synchronousStandbyNames === undefined ? null : await readSyncNames(pg);
      return {
        ok: true,
        reason: 'already primary',
        promoted: false,
        timeline: state.timeline,
        walLsn: state.walLsn,
        ...(syncNames === null ? {} : { synchronousStandbyNames: syncNames }),
        ...(await placeWriterVip(ctx.config.vip, ctx.log)),
      };
    }
    // Promoted with a lapsed lease, this node would stop itself at once: its standbys are still
    // being re-pointed, so "every member streams from it" can't hold yet. Renew first, or refuse.
    const fresh = (await ctx.leaseFresh?.()) ?? { ok: true };
    if (!fresh.ok) return { ok: false, reason: `${fresh.reason}: not promoted (ask again once the lease renews)` };
    if (input.minLsn) {
      const deadline = Date.now() + input.waitMs;
      let replay = state.replayLsn;
      while (replay === null || compareLsn(replay, input.minLsn) < 0) {
        if (Date.now() > deadline) {
          return { ok: false, reason: `replay reached ${replay ?? 'nothing'}, not ${input.minLsn}, within ${input.waitMs} ms: not promoted`, replayLsn: replay };
        }
        await delay(50);
        replay = (await readServerState(pg)).replayLsn;
      }
    }
    const syncNames = input.synchronousStandbyNames === undefined ? null : await syncNamesBeforePromotion(pg, input.synchronousStandbyNames, ctx.log);
    const r = await pg.run('pg_ctl', ['promote', '-w', '-t', '60', '-D', pg.dataDir], 70_000);
    const after = await readServerState(pg);
    if (after.inRecovery !== false) return { ok: false, reason: `pg_ctl promote: ${r.ok ? 'still in recovery afterwards' : tail(r)}` };
    ctx.log({ level: 'info', msg: 'promoted', term: input.term, timeline: after.timeline });
    return {
      ok: true,
      reason: 'promoted',
      promoted: true,
      timeline: after.timeline,
      walLsn: after.walLsn,
      ...(syncNames === null ? {} : { synchronousStandbyNames: syncNames }),
      ...(await placeWriterVip(ctx.config.vip, ctx.log)),
    };
  },
});

/**
 * A promote of term T reaching a primary of term T that stopped itself (its lease lapsed
 * before any standby streamed from it: a stall right after the promotion) starts it again.
 * The control plane asking for this promotion again is the proof it is wanted: the failover
 * of term T waits for this node and no other may be primary of T. Only this agent's own
 * lease-lapse fence of the same term is lifted, never the control plane's fence, and only
 * over a data directory that was a primary's (not in recovery) when it stopped.
 */
async function restartSelfFencedPrimary(ctx: ActionContext, term: number, fenced: Fenced | null): Promise<Answer<FactsOf<'promote'>> | null> {
  if (fenced === null || fenced.term !== term || !fenced.why.startsWith(SELF_FENCE_PREFIX)) return null;
  const cd = await ctx.pg.controlData();
  if ('error' in cd || !PRIMARY_STOPPED.has(cd.state)) return null;
  await ctx.fence.clear();
  const started = await ctx.pg.start();
  const after = started.ok ? await readServerState(ctx.pg) : null;
  if (!started.ok || after?.inRecovery !== false) {
    await ctx.fence.set(fenced.term, fenced.why);
    return { ok: false, reason: `this primary of term ${term} stopped itself and could not be started again: ${started.ok ? 'it came up in recovery' : started.reason}` };
  }
  ctx.log({ level: 'warn', msg: 'restarted as primary after self-fencing', term, timeline: after.timeline });
  return {
    ok: true,
    reason: `restarted as primary of term ${term} after stopping itself (lease lapsed)`,
    promoted: false,
    timeline: after.timeline,
    walLsn: after.walLsn,
    ...(await placeWriterVip(ctx.config.vip, ctx.log)),
  };
}

/**
 * The chosen candidate's host power-cycled during the failover (its agent back first, as
 * systemd starts it): its PostgreSQL is down over a standby's data directory. It is started
 * in recovery, as it was, so the promotion below can proceed: it holds at least the WAL it had
 * flushed when it was chosen (a standby reports flushed WAL, which a crash keeps), and the
 * minLsn wait still guards a switchover. Never over a fence marker (a fenced node starts only
 * by follow or rewind), and never a data directory that was not a standby's.
 */
async function startStoppedStandby(ctx: ActionContext, fenced: Fenced | null): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (fenced !== null) return { ok: false, reason: 'nothing to promote' };
  const cd = await ctx.pg.controlData();
  if ('error' in cd || !STANDBY_STOPPED.has(cd.state) || !existsSync(join(ctx.pg.dataDir, 'standby.signal'))) return { ok: false, reason: 'nothing to promote' };
  const started = await ctx.pg.start();
  const after = started.ok ? await readServerState(ctx.pg) : null;
  if (!started.ok || after?.inRecovery !== true) {
    return { ok: false, reason: `its standby data directory could not be started in recovery to promote it: ${started.ok ? (after?.why ?? 'it did not come up in recovery') : started.reason}` };
  }
  ctx.log({ level: 'warn', msg: 'started a stopped standby to promote it', state: cd.state });
  return { ok: true };
}

/** pg_controldata states of a data directory a standby left (stopped cleanly, or at once). */
const STANDBY_STOPPED = new Set(['shut down in recovery', 'in archive recovery']);

/** pg_controldata states of a data directory a primary stopped (cleanly, or at once). */
const PRIMARY_STOPPED = new Set(['shut down', 'in production']);
