import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { findFreePort } from '../postgres/freePort.ts';
import { type BackupVerification, VERIFICATION, backupKey, rowCountDifferences } from './backupManifest.ts';
import { countRows } from './rowCounts.ts';
import { loadManifest, restoreAndReplay, stopRestored, targetLabel, type RestoreRequest } from './restoreSteps.ts';

export interface VerifyOptions extends RestoreRequest {
  /** Where the temporary instance lives (removed afterwards). */
  scratchDir: string;
}

export type VerifyOutcome = { ok: true; verification: BackupVerification; recordedAs: string } | { ok: false; reason: string };

/**
 * `pgvigil restore --verify`: restore a backup into a temporary instance, replay WAL from the
 * archive to the backup's end (or `targetTime`), check that it starts and, at the backup's
 * end, that every table holds the rows counted when the backup was taken; then remove it.
 * The outcome is written beside the backup, so `pgvigil backups` shows what was verified.
 * The instance archives nothing and is nobody's standby.
 */
export async function verifyBackup(o: VerifyOptions): Promise<VerifyOutcome> {
  const started = Date.now();
  const progress = o.progress ?? (() => {});
  const loaded = await loadManifest(o.archive, o.id, o.targetTime);
  if (!loaded.ok) return loaded;
  const { manifest } = loaded;
  const target = targetLabel(o.targetTime);

  await mkdir(o.scratchDir, { recursive: true });
  const tmp = await mkdtemp(join(o.scratchDir, `verify-${o.id}-`));
  const dataDir = join(tmp, 'data');
  const outcome = await (async (): Promise<{ ok: true; verification: BackupVerification } | { ok: false; reason: string }> => {
    const port = await findFreePort();
    const replayed = await restoreAndReplay({ ...o, manifest, dataDir, scratchDir: tmp, logFile: join(tmp, 'postmaster.log'), port, clusterName: `verify-${o.id}` });
    if (!replayed.ok) return replayed;
    progress('counting rows');
    const counted = await countRows({ host: '127.0.0.1', port });
    if (!counted.ok) return { ok: false, reason: `the restored instance started, but ${counted.reason}` };
    const base = { at: new Date().toISOString(), target, ms: Date.now() - started, rowCounts: counted.counts };
    if (o.targetTime) return { ok: true, verification: { ...base, ok: true, reason: `restored to ${target}; started and promoted` } };
    const diff = rowCountDifferences(manifest.rowCounts, counted.counts);
    if (diff.length > 0) return { ok: true, verification: { ...base, ok: false, reason: `row counts differ: ${diff.slice(0, 5).join('; ')}${diff.length > 5 ? ` (+${diff.length - 5} more)` : ''}` } };
    const tables = Object.values(counted.counts).reduce((n, t) => n + Object.keys(t).length, 0);
    return { ok: true, verification: { ...base, ok: true, reason: `restored to the backup end; ${tables} tables match the row counts recorded at backup time` } };
  })().finally(async () => {
    await stopRestored(o.bindir, o.osUser, dataDir, 'immediate');
    await rm(tmp, { recursive: true, force: true });
  });
  if (!outcome.ok) {
    // A failed restore is a verification result too: the backup is shown as failing.
    const failed: BackupVerification = { at: new Date().toISOString(), ok: false, reason: outcome.reason, target, ms: Date.now() - started };
    await o.archive.putText(backupKey(o.id, VERIFICATION), `${JSON.stringify(failed, null, 2)}\n`);
    return outcome;
  }
  const put = await o.archive.putText(backupKey(o.id, VERIFICATION), `${JSON.stringify(outcome.verification, null, 2)}\n`);
  if (!put.ok) return { ok: false, reason: `verified, but the result could not be recorded: ${put.reason}` };
  return { ok: true, verification: outcome.verification, recordedAs: backupKey(o.id, VERIFICATION) };
}
