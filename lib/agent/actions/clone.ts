import { z } from 'zod';
import { readServerState } from '../serverState.ts';
import { defineAction } from './actionTypes.ts';
import { answers, Peer, Term } from './wire.ts';
import { baseBackupInto } from './baseBackup.ts';
import { hasDataDir } from './nodeIdentity.ts';
import { pointAtUpstream } from './pointAtUpstream.ts';

/**
 * Build this node as a new standby, copied from `source` (a standby, so the primary isn't
 * loaded), then stream from `upstream` (default: the source, cascading). Never overwrites
 * an existing data directory; a retried clone of a node already streaming is ok. Takes a
 * term like every action that changes a node (it re-points a running standby and lifts its
 * fence marker): one older than the agent has seen is refused with 409.
 */
export const clone = defineAction({
  schema: z
    .object({
      term: Term,
      source: Peer,
      upstream: Peer.optional(),
      /** Stream through this slot, created on the upstream if missing. */
      slot: z.string().regex(/^[a-z0-9_]{1,63}$/, 'a slot name: lowercase letters, digits and _').nullable().optional(),
      streamWaitMs: z.number().int().min(100).max(120_000).default(15_000),
    })
    .strict(),
  answer: answers.clone,
  term: 'required',
  async run(ctx, input) {
    const { pg } = ctx;
    const upstream = input.upstream ?? input.source;
    const point = () => pointAtUpstream(ctx, upstream, { slot: input.slot ?? null, allowStandbyUpstream: true, streamWaitMs: input.streamWaitMs });
    if (await hasDataDir(pg)) {
      const state = await readServerState(pg);
      if (state.running && state.inRecovery) {
        const followed = await point();
        return { ...followed, reason: `already a standby; ${followed.reason}`, cloned: false };
      }
      return { ok: false, reason: `${pg.dataDir} already holds a data directory that is not a running standby: remove it, or use rewind/follow` };
    }
    const copy = await baseBackupInto(ctx, input.source);
    if (!copy.ok) return { ok: false, reason: copy.reason, cloned: false };
    const followed = await point();
    return { ...followed, reason: `cloned from ${input.source.name}; ${followed.reason}`, cloned: true, basebackupMs: copy.ms };
  },
});
