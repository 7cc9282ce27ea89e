import { z } from 'zod';
import { compareLsn } from '../../domain/lsn.ts';
import { Lsn } from '../../domain/observation.ts';
import { delay, tail } from '../../postgres/pgServer.ts';
import { readServerState, type ServerState } from '../serverState.ts';
import { placeWriterVip } from '../writerVip.ts';
import { readSyncNames, syncNamesBeforePromotion } from '../syncNamesKeeper.ts';
import type { Fenced } from '../fenceMarker.ts';
import { SELF_FENCE_PREFIX } from '../lease.ts';
import { defineAction, type ActionContext } from './actionTypes.ts';
import { answers, Term, type Answer, type FactsOf } from './wire.ts';
import { startStopped } from './startStopped.ts';

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
      /** A restart of the log's primary (restartPrimary.ts): only a stopped primary is started; a standby is never promoted by it. */
      restartOnly: z.boolean().optional(),
      /** Synchronous mode: the spec's setting, put in force before the promotion (issue 12 path 2). */
      synchronousStandbyNames: z.string().max(4_096).optional(),
    })
    .strict(),
  answer: answers.promote,
  term: 'required',
  async run(ctx, input) {
    const { pg } = ctx;
    const past = await pastTerm(ctx, input.term);
    if (past) return past;
    const fenced = await ctx.fence.get();
    let state = await readServerState(pg);
    if (!state.running) {
      if (fenced !== null) return await restartFencedPrimary(ctx, input.term, fenced);
      if (input.restartOnly) return { ok: false, reason: 'PostgreSQL is not running here and no fence marker says a primary stopped here: a restart starts only a stopped primary' };
      const standby = await startStopped(ctx, 'standby', null);
      if (!standby.ok) return { ok: false, reason: `PostgreSQL is not running here: ${standby.reason}` };
      ctx.log({ level: 'warn', msg: 'started a stopped standby to promote it' });
      state = standby.after;
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
    // The control plane asked to start a stopped primary again; a standby here has none of the data that was judged.
    if (input.restartOnly) return { ok: false, reason: 'this node is a standby: a restart starts a stopped primary again and never promotes a standby' };
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
 * A promote the control plane gave up on can run late (a frozen host thawing with the request on
 * its socket) after the log moved on and another node was promoted: the agent's own term is only
 * what reached it. So every promote first reads the log's term, and one of a term the log has
 * moved past is refused; so is any promote while the store does not answer (a failover needs the
 * store anyway). Without a store (a bare agent in a test) there is no log to ask.
 */
async function pastTerm(ctx: ActionContext, term: number): Promise<{ ok: false; reason: string } | null> {
  if (!ctx.logTerm) return null;
  const log = await ctx.logTerm();
  if (!log.ok) return { ok: false, reason: `the decision log could not be read (${log.reason}): not promoted` };
  if (log.term > term) return { ok: false, reason: `the log is at term ${log.term}, past ${term}: not promoted (a request run late)` };
  return null;
}

/**
 * A promote reaching a primary that was stopped and fenced starts it again as primary of the
 * promote's term, in two cases only:
 * - its own lease-lapse fence of the same term (it stopped itself: a stall right after its
 *   promotion, a store outage with no standby streaming). The control plane asking for this
 *   promotion again is the proof it is wanted: no other may be primary of that term.
 * - a fence of an earlier term (the control plane's demote or fence of a switchover past its
 *   deadline or of an aborted failover, possibly landed late: issue 13 items 4 and 2a). The
 *   control plane asks this only of the log's primary, holding the newest data, once no other
 *   node was promoted; the new term makes every request of the stopping term stale here.
 * Never over a fence of the same term set by the control plane or of a later term, nor over an
 * unreadable marker, and only over a data directory that a primary left (not in recovery).
 */
async function restartFencedPrimary(ctx: ActionContext, term: number, fenced: Fenced): Promise<Answer<FactsOf<'promote'>>> {
  const here = `PostgreSQL is not running here (fenced at term ${fenced.term}: ${fenced.why})`;
  const why = liftableFence(fenced, term);
  if (why === null) {
    return { ok: false, reason: `${here}: a promote of term ${term} lifts only this agent's own lease-lapse fence of that term, or a fence of an earlier term: not started` };
  }
  // Started on a lapsed lease, it would stop itself at its next check: renew first, or refuse.
  const fresh = (await ctx.leaseFresh?.()) ?? { ok: true };
  if (!fresh.ok) return { ok: false, reason: `${here}: ${fresh.reason}: not started (ask again once the lease renews)` };
  const started = await startStopped(ctx, 'primary', fenced);
  if (!started.ok) return { ok: false, reason: `${here}: not started as primary of term ${term}: ${started.reason}` };
  const after = started.after;
  ctx.log({ level: 'warn', msg: 'restarted a fenced primary', term, fencedAt: fenced.term, timeline: after.timeline });
  return {
    ok: true,
    reason: `restarted as primary of term ${term} ${why}`,
    promoted: false,
    timeline: after.timeline,
    walLsn: after.walLsn,
    ...(await placeWriterVip(ctx.config.vip, ctx.log)),
  };
}

/** Why this fence may be lifted by a promote of `term`, or null when it must hold. */
function liftableFence(fenced: Fenced, term: number): string | null {
  if (fenced.term === term && fenced.why.startsWith(SELF_FENCE_PREFIX)) return 'after stopping itself (lease lapsed)';
  // An unreadable marker reads as term -1: never lifted.
  if (fenced.term >= 0 && fenced.term < term) return `over the fence of term ${fenced.term} (${fenced.why})`;
  return null;
}

