import { rm } from 'node:fs/promises';
import { z } from 'zod';
import { tail } from '../../postgres/pgServer.ts';
import { slotName, superuserConninfo } from '../../postgres/standbyConf.ts';
import { defineAction, type ActionContext } from './actionTypes.ts';
import { answers, Peer, Term, type Answer, type FactsOf } from './wire.ts';
import { baseBackupInto, moveDataDirAside, putDataDirBack } from './baseBackup.ts';
import { restoreNodeIdentity } from './nodeIdentity.ts';
import { pointAtUpstream } from './pointAtUpstream.ts';
import { readServerState, receiverIsFrom } from '../serverState.ts';
import { sql } from '../../postgres/pgSql.ts';
import { peerTarget } from '../../postgres/peerLogin.ts';

/**
 * Bring a diverged old primary back as a standby of `source`: stop it, pg_rewind it from
 * the source, then follow. When pg_rewind can't, rebuild it with pg_basebackup, keeping the
 * old data directory aside until the new one streams.
 */
export const rewind = defineAction({
  schema: z
    .object({
      term: Term,
      source: Peer,
      streamWaitMs: z.number().int().min(100).max(120_000).default(15_000),
    })
    .strict(),
  answer: answers.rewind,
  term: 'required',
  async run(ctx, input) {
    const { pg, log } = ctx;
    const follow = () => pointAtUpstream(ctx, input.source, { slot: slotName(ctx.config.node), allowStandbyUpstream: false, streamWaitMs: input.streamWaitMs });

    // Already a standby streaming from the source (a retried rewind): nothing to do.
    const state = await readServerState(pg);
    if (state.running && state.inRecovery && state.receiver?.status === 'streaming' && receiverIsFrom(state.receiver, input.source)) {
      return { ok: true, reason: `already streaming from ${input.source.name}`, method: 'none' as const };
    }
    const stopped = await pg.stopNow(10);
    if (!stopped.ok) return { ok: false, reason: `could not stop PostgreSQL before rewind: ${stopped.reason}` };

    // A just-promoted source names its new timeline in its control file only after its
    // end-of-recovery checkpoint; before that pg_rewind sees one timeline and rewinds nothing.
    const checkpoint = await sourceCheckpoint(ctx, input.source);
    if (!checkpoint.ok) return { ok: false, reason: `CHECKPOINT on ${input.source.name} before pg_rewind: ${checkpoint.reason}` };

    const started = Date.now();
    // Without --no-ensure-shutdown, pg_rewind (13+) first runs crash recovery in single-user mode on an unclean target.
    const r = await pg.run('pg_rewind', ['--target-pgdata', pg.dataDir, '--source-server', superuserConninfo(input.source, ctx.config.replicationAuth)], 30 * 60_000);
    if (r.ok) {
      await restoreNodeIdentity(ctx);
      const rewindMs = Date.now() - started;
      log({ level: 'info', msg: 'rewound', source: input.source.name, ms: rewindMs, output: tail(r) });
      const followed = await follow();
      return { ...followed, reason: followed.ok ? `rewound; ${followed.reason}` : `rewound, but ${followed.reason}`, method: 'pg_rewind' as const, rewindMs };
    }
    log({ level: 'warn', msg: 'pg_rewind failed: rebuilding with pg_basebackup', source: input.source.name, output: tail(r) });
    return rebuild(ctx, input.source, tail(r), follow);
  },
});

async function rebuild(ctx: ActionContext, source: Peer, rewindFailure: string, follow: () => Promise<Answer<FactsOf<'follow'>>>): Promise<Answer<FactsOf<'rewind'>>> {
  const aside = await moveDataDirAside(ctx);
  const copy = await baseBackupInto(ctx, source);
  if (!copy.ok) {
    await putDataDirBack(ctx, aside);
    return { ok: false, reason: `pg_rewind failed (${rewindFailure}) and so did the rebuild: ${copy.reason}`, method: 'pg_basebackup' as const };
  }
  const followed = await follow();
  if (!followed.ok) {
    // The old directory stays aside for a person to inspect; the new one is kept too.
    return { ...followed, reason: `rebuilt with pg_basebackup, but ${followed.reason}; old data kept at ${aside}`, method: 'pg_basebackup' as const, aside };
  }
  await rm(aside, { recursive: true, force: true });
  return { ...followed, reason: `pg_rewind failed (${rewindFailure}); rebuilt with pg_basebackup; ${followed.reason}`, method: 'pg_basebackup' as const, basebackupMs: copy.ms };
}


/**
 * The source's CHECKPOINT, logged in as pg_rewind is: on a bootstrapped host the replication
 * role (pg_checkpoint, PostgreSQL 15+) over TLS, since the superuser never logs in over the network.
 */
function sourceCheckpoint(ctx: ActionContext, source: { host: string; port: number }) {
  return sql(peerTarget(source, ctx.config.replicationAuth), 'CHECKPOINT', [], 60_000);
}
