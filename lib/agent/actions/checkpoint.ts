import { z } from 'zod';
import { delay } from '../../postgres/pgServer.ts';
import { readServerState } from '../serverState.ts';
import { defineAction } from './actionTypes.ts';
import { answers, Term } from './wire.ts';

type ArchiverRow = { last_archived_wal: string | null; last_failed_wal: string | null };

/**
 * Switchover, step zero, while clients are still served: CHECKPOINT, and with archiving on a
 * switch to a new WAL segment that is archived before the answer (bounded by waitMs). The demote
 * that follows runs inside the writer endpoint's pause; this leaves its own CHECKPOINT little
 * to flush and its clean stop nothing to archive (a stopping server waits for its archiver).
 * Changes nothing a client sees; a failure only makes the pause longer.
 */
export const checkpoint = defineAction({
  schema: z.object({ term: Term, waitMs: z.number().int().min(0).max(30_000).default(5_000) }).strict(),
  answer: answers.checkpoint,
  term: 'required',
  async run(ctx, input) {
    const { pg } = ctx;
    const state = await readServerState(pg);
    if (!state.running || !state.answering || state.inRecovery !== false) return { ok: false, reason: 'not a running primary: nothing to prepare' };
    const started = Date.now();
    const cp = await pg.sql('CHECKPOINT', [], 30_000);
    if (!cp.ok) return { ok: false, reason: `CHECKPOINT failed: ${cp.reason}` };
    const checkpointMs = Date.now() - started;
    const mode = await pg.sql<{ on: boolean }>("SELECT current_setting('archive_mode') <> 'off' AND current_setting('archive_command') <> '' AS on", [], 5_000);
    if (!mode.ok || !mode.rows[0]?.on) return { ok: true, reason: `checkpoint in ${checkpointMs} ms`, checkpointMs, archivedMs: null };
    const sw = await pg.sql<{ wal: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS wal', [], 5_000);
    if (!sw.ok || !sw.rows[0]) return { ok: true, reason: `checkpoint in ${checkpointMs} ms; no WAL switch (${sw.ok ? 'no row' : sw.reason})`, checkpointMs, archivedMs: null };
    const wal = sw.rows[0].wal;
    const deadline = Date.now() + input.waitMs;
    for (;;) {
      const a = await pg.sql<ArchiverRow>('SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver', [], 5_000);
      const row = a.ok ? a.rows[0] : undefined;
      // Same timeline, so segment names order as their positions do.
      if (row?.last_archived_wal && row.last_archived_wal.slice(0, 24) >= wal) {
        const archivedMs = Date.now() - started - checkpointMs;
        return { ok: true, reason: `checkpoint in ${checkpointMs} ms; ${wal} archived in ${archivedMs} ms`, checkpointMs, archivedMs };
      }
      if (row?.last_failed_wal === wal || Date.now() > deadline) {
        return { ok: true, reason: `checkpoint in ${checkpointMs} ms; ${wal} not archived within ${input.waitMs} ms`, checkpointMs, archivedMs: null };
      }
      await delay(20);
    }
  },
});
