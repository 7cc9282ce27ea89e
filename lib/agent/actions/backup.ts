import { z } from 'zod';
import { openArchive } from '../../backup/archiveStore.ts';
import { takeBackup } from '../../backup/takeBackup.ts';
import { defineAction } from './actionTypes.ts';
import { answers } from './wire.ts';

let running: Promise<unknown> | null = null;

/**
 * A base backup of this host's standby into the configured archive. It runs outside the
 * action lock (term 'none'), like status: a backup takes minutes to hours and must never
 * delay a fence or a promotion; a promotion ends the replay pause it holds. One at a time.
 */
export const backup = defineAction({
  schema: z.object({ allowPrimary: z.boolean().default(false) }).strict(),
  answer: answers.backup,
  term: 'none',
  async run(ctx, input) {
    if (!ctx.config.archive) return { ok: false, reason: `no archive is configured for ${ctx.config.node}: add "archive" to its agent config` };
    if (running) return { ok: false, reason: 'a backup is already running on this node: wait for it, or take one from another standby' };
    const archive = await openArchive(ctx.config.archive);
    const work = takeBackup({
      pg: ctx.pg,
      archive,
      cluster: ctx.config.cluster,
      node: ctx.config.node,
      allowPrimary: input.allowPrimary,
      progress: (step) => ctx.log({ level: 'info', msg: 'backup', step }),
    });
    running = work;
    try {
      const r = await work;
      if (!r.ok) {
        ctx.log({ level: 'warn', msg: 'backup failed', reason: r.reason });
        return r;
      }
      const bytes = r.manifest.files.reduce((n, f) => n + f.bytes, 0);
      ctx.log({ level: 'info', msg: 'backup taken', id: r.manifest.id, bytes, ms: r.ms });
      return { ok: true, reason: `backup ${r.manifest.id} in ${archive.where}`, id: r.manifest.id, bytes, ms: r.ms, stopLsn: r.manifest.stopLsn };
    } finally {
      running = null;
    }
  },
});
