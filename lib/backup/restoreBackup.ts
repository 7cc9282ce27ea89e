import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { findFreePort, isPortFree } from '../postgres/freePort.ts';
import { forgetRecovery, loadManifest, restoreAndReplay, stopRestored, targetLabel, type RestoreRequest, type Step } from './restoreSteps.ts';

export interface RestoreOptions extends RestoreRequest {
  /** The data directory to create: absent or empty. */
  into: string;
  /** The port the restored instance is set to listen on (127.0.0.1); default a free one. */
  port?: number;
}

/** `refused`: bad input, found before anything was written. */
export type RestoreOutcome = { ok: true; into: string; port: number; target: string; ms: number; logFile: string } | { ok: false; reason: string; refused?: true };

/**
 * `pgvigil restore ID --into DIR`: the same restore and replay as `--verify`, kept. Once
 * PostgreSQL has promoted (a new timeline) it is stopped cleanly and its recovery settings are
 * removed, so `pg_ctl start` opens it as it was at the target. It stays isolated: loopback only,
 * archiving off (its timeline's WAL would land among the live cluster's), nobody's standby.
 * A directory that is not empty is refused before anything is written.
 */
export async function restoreBackup(o: RestoreOptions): Promise<RestoreOutcome> {
  const started = Date.now();
  const progress = o.progress ?? (() => {});
  const into = resolve(o.into);
  // null: absent, so this restore makes it (and removes it again should it fail).
  const existing = await readdir(into).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : e));
  if (existing instanceof Error) return { ok: false, refused: true, reason: `--into ${into}: ${existing.message}` };
  const created = existing === null;
  if (existing !== null && existing.length > 0) return { ok: false, refused: true, reason: `--into ${into} is not empty (${existing.length} entries): nothing was written` };
  if (o.port !== undefined && !(await isPortFree(o.port))) return { ok: false, refused: true, reason: `--port ${o.port} is in use here: nothing was written` };
  const loaded = await loadManifest(o.archive, o.id, o.targetTime);
  if (!loaded.ok) return loaded;
  const target = targetLabel(o.targetTime);

  // WAL and the downloads beside the new directory, on its disk, never inside it.
  await mkdir(dirname(into), { recursive: true });
  const scratch = await mkdtemp(join(dirname(into), `.${basename(into)}-restore-`));
  const port = o.port ?? (await findFreePort());
  const logFile = join(into, 'restore.log');
  const outcome = await (async (): Promise<Step> => {
    const replayed = await restoreAndReplay({ ...o, manifest: loaded.manifest, dataDir: into, scratchDir: scratch, logFile, port, clusterName: `restored-${o.id}` });
    if (!replayed.ok) return replayed;
    progress('promoted; stopping it cleanly');
    const stopped = await stopRestored(o.bindir, o.osUser, into, 'fast');
    if (!stopped.ok) return stopped;
    await forgetRecovery(into, o.osUser);
    return { ok: true };
  })();
  if (!outcome.ok) {
    // A half-restored directory is no database: what was written goes, as the scratch space does.
    await stopRestored(o.bindir, o.osUser, into, 'immediate');
    if (created) await rm(into, { recursive: true, force: true });
    else for (const name of await readdir(into).catch(() => [])) await rm(join(into, name), { recursive: true, force: true });
  }
  await rm(scratch, { recursive: true, force: true });
  if (!outcome.ok) return outcome;
  return { ok: true, into, port, target, ms: Date.now() - started, logFile };
}
