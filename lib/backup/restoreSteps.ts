import { spawn } from 'node:child_process';
import { chown, mkdir, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { runPg } from '../postgres/pgCommand.ts';
import { sql } from '../postgres/pgSql.ts';
import { editAutoConf } from '../postgres/autoConf.ts';
import { readPostmasterPid, writeOwnedFile, appendOwnedFile } from '../postgres/nodeFiles.ts';
import type { OsUser } from '../postgres/osUser.ts';
import type { ArchiveStore } from './archiveStore.ts';
import { BackupManifest, MANIFEST, backupKey } from './backupManifest.ts';
import { neededForRestore } from './walNames.ts';

/*
 * The steps of a restore that `restore --verify` (restoreVerify.ts) and `restore --into`
 * (restoreBackup.ts) share: the manifest, the base backup and WAL fetched, replay to the target
 * until PostgreSQL promotes, and the settings that keep a restored instance apart.
 */

export type Step<T = object> = ({ ok: true } & T) | { ok: false; reason: string };

/** What a restore replays to, as its outcome and the verification record name it. */
export const targetLabel = (targetTime?: Date): string => (targetTime ? targetTime.toISOString() : 'backup end');

/** A backup's manifest, or why there is none to restore. */
export async function loadManifest(archive: ArchiveStore, id: string, targetTime?: Date): Promise<Step<{ manifest: BackupManifest }>> {
  const text = await archive.getText(backupKey(id, MANIFEST));
  if (!text.ok) return text;
  if (text.text === null) return { ok: false, reason: `no backup ${id} in ${archive.where}: pgvigil backups lists them` };
  let manifest: BackupManifest;
  try {
    manifest = BackupManifest.parse(JSON.parse(text.text));
  } catch (e) {
    return { ok: false, reason: `backup ${id}: its manifest does not parse (${(e as Error).message.slice(0, 200)})` };
  }
  if (targetTime && targetTime.getTime() < Date.parse(manifest.startedAt)) {
    return { ok: false, reason: `--target-time ${targetTime.toISOString()} is before backup ${id} was taken (${manifest.startedAt}): pick an older backup` };
  }
  return { ok: true, manifest };
}

/**
 * What a restored instance runs with, whether it is a verification's or one kept: on loopback
 * only, its own port, never archiving (its new timeline's files would land among the live
 * cluster's), never waiting for a standby, never streaming from anyone.
 */
export function isolatedSettings(port: number, clusterName: string): Record<string, string | number> {
  return {
    port,
    listen_addresses: '127.0.0.1',
    // The backup's socket directory may not exist here: TCP on loopback only.
    unix_socket_directories: '',
    cluster_name: clusterName.slice(0, 60),
    // Its log in the one file pg_ctl -l names, for the reason of a failed start.
    logging_collector: 'off',
    archive_mode: 'off',
    synchronous_standby_names: '',
    primary_conninfo: '',
    primary_slot_name: '',
  };
}

/** The recovery settings of the replay; removed from a restore that is kept once it has promoted. */
const RECOVERY_SETTINGS = ['restore_command', 'recovery_target_action', 'recovery_target_timeline', 'recovery_target', 'recovery_target_time'] as const;

/** What both restores are asked: which backup, replayed how far, with which server binaries. */
export interface RestoreRequest {
  archive: ArchiveStore;
  id: string;
  /** Replay to this time instead of the backup's end (point-in-time restore). */
  targetTime?: Date;
  bindir: string;
  osUser: OsUser | null;
  /** How long replay may take (default 10 minutes). */
  recoveryTimeoutMs?: number;
  progress?: (step: string) => void;
}

export interface ReplayOptions extends RestoreRequest {
  manifest: BackupManifest;
  /** Made (or an empty directory) and given to the server's OS user: the backup is restored here. */
  dataDir: string;
  /** The base backup's files while they are extracted, and (in `wal/`) the WAL replay reads. */
  scratchDir: string;
  logFile: string;
  port: number;
  clusterName: string;
}

/**
 * Restore a base backup into `dataDir`, fetch the WAL it needs from the archive, and replay to
 * the backup's end (or `targetTime`) until PostgreSQL promotes. On success the server is left
 * running on `port`; on failure it may be too (the caller stops it either way).
 */
export async function restoreAndReplay(o: ReplayOptions): Promise<Step> {
  const target = targetLabel(o.targetTime);
  const pg = (tool: string, args: string[], timeoutMs = 60_000) => runPg(o.bindir, tool, args, { osUser: o.osUser, timeoutMs });
  const progress = o.progress ?? (() => {});
  const walDir = join(o.scratchDir, 'wal');
  for (const d of [o.dataDir, o.scratchDir, walDir]) {
    await mkdir(d, { recursive: true, mode: 0o700 });
    if (o.osUser) await chown(d, o.osUser.uid, o.osUser.gid);
  }
  for (const f of o.manifest.files.filter((f) => f.name.endsWith('.tar.gz'))) {
    progress(`fetching ${f.name} (${f.bytes} bytes)`);
    const local = join(o.scratchDir, f.name);
    const got = await o.archive.getFile(backupKey(o.id, f.name), local);
    if (!got.ok) return got;
    if (!got.found) return { ok: false, reason: `backup ${o.id} lacks ${f.name} in ${o.archive.where}: it is incomplete` };
    if (o.osUser) await chown(local, o.osUser.uid, o.osUser.gid);
    const into = f.name === 'pg_wal.tar.gz' ? join(o.dataDir, 'pg_wal') : o.dataDir;
    const x = await untar(local, into, o.osUser);
    if (!x.ok) return x;
    await rm(local, { force: true });
  }
  // Recovery from the archive, not from a primary: drop what made the copy a standby.
  for (const f of ['standby.signal', 'recovery.signal', 'postmaster.pid']) await unlink(join(o.dataDir, f)).catch(() => {});

  const listed = await o.archive.list('wal/');
  if (!listed.ok) return listed;
  const needed = neededForRestore(listed.objects.map((x) => x.key.slice('wal/'.length)), o.manifest.startWalFile);
  progress(`fetching ${needed.length} WAL files from ${o.archive.where}`);
  for (const name of needed) {
    const got = await o.archive.getFile(`wal/${name}`, join(walDir, name));
    if (!got.ok) return got;
    if (o.osUser && got.found) await chown(join(walDir, name), o.osUser.uid, o.osUser.gid);
  }

  await editRestoredConf(o.dataDir, o.osUser, {
    ...isolatedSettings(o.port, o.clusterName),
    restore_command: `cp "${walDir}/%f" "%p"`,
    recovery_target_action: 'promote',
    recovery_target_timeline: 'latest',
    ...(o.targetTime ? { recovery_target_time: pgTimestamp(o.targetTime), recovery_target: null } : { recovery_target: 'immediate', recovery_target_time: null }),
  });
  await appendOwnedFile(join(o.dataDir, 'recovery.signal'), '', o.osUser);

  progress(`replaying to ${target} on port ${o.port}`);
  const timeoutMs = o.recoveryTimeoutMs ?? 10 * 60_000;
  const timeoutSec = Math.ceil(timeoutMs / 1000);
  const deadline = Date.now() + timeoutMs;
  const replay = async (): Promise<{ ok: true } | { ok: false; reason: string; log: string }> => {
    const start = await pg('pg_ctl', ['start', '-w', '-t', String(timeoutSec), '-D', o.dataDir, '-l', o.logFile], (timeoutSec + 10) * 1000);
    if (!start.ok) return { ok: false, reason: 'the restored instance did not start', log: await logTail(o.logFile) };
    for (;;) {
      const r = await sql<{ recovery: boolean }>({ host: '127.0.0.1', port: o.port }, 'SELECT pg_is_in_recovery() AS recovery');
      if (r.ok && r.rows[0]?.recovery === false) return { ok: true };
      if (!r.ok && (await readPostmasterPid(o.dataDir)) === null) return { ok: false, reason: 'recovery stopped', log: await logTail(o.logFile) };
      if (Date.now() > deadline) return { ok: false, reason: `replay did not reach ${target} within ${timeoutMs} ms`, log: await logTail(o.logFile) };
      await new Promise((res) => setTimeout(res, 100));
    }
  };
  let replayed = await replay();
  // A backup taken from a standby ends where its WAL ends when nothing was written since:
  // recovery then reaches consistency only while looking for a next record, after the
  // 'immediate' check, and ends "before the target". The end of WAL is then the backup's
  // end (short of it PostgreSQL refuses: "WAL ends before consistent recovery point"),
  // so replaying to the end of WAL, with no target, restores exactly the backup.
  if (!replayed.ok && !o.targetTime && /recovery ended before configured recovery target was reached/.test(replayed.log)) {
    await editRestoredConf(o.dataDir, o.osUser, { recovery_target: null });
    replayed = await replay();
  }
  return replayed.ok ? { ok: true } : { ok: false, reason: `${replayed.reason}: ${replayed.log}` };
}

/** Stop a restored instance if it runs: `fast` leaves a clean shutdown checkpoint, `immediate` is for one about to be removed. */
export async function stopRestored(bindir: string, osUser: OsUser | null, dataDir: string, mode: 'fast' | 'immediate'): Promise<Step> {
  if ((await readPostmasterPid(dataDir).catch(() => null)) === null) return { ok: true };
  const r = await runPg(bindir, 'pg_ctl', ['stop', '-w', '-t', '60', '-m', mode, '-D', dataDir], { osUser, timeoutMs: 70_000 });
  return r.ok ? { ok: true } : { ok: false, reason: `pg_ctl stop -D ${dataDir}: ${r.stderr.trim().slice(-300) || `exit ${r.code}`}` };
}

/** A restore that is kept no longer recovers from anything: its recovery settings go, its isolation stays. */
export function forgetRecovery(dataDir: string, osUser: OsUser | null): Promise<void> {
  return editRestoredConf(dataDir, osUser, Object.fromEntries(RECOVERY_SETTINGS.map((k) => [k, null])));
}

async function editRestoredConf(dataDir: string, osUser: OsUser | null, settings: Record<string, string | number | null>): Promise<void> {
  const path = join(dataDir, 'postgresql.auto.conf');
  const text = await readFile(path, 'utf8').catch(() => '');
  await writeOwnedFile(path, editAutoConf(text, settings), osUser);
}

/** recovery_target_time refuses ISO's `T…Z`: `2026-11-24 03:11:28.691+00`. */
export function pgTimestamp(t: Date): string {
  return t.toISOString().replace('T', ' ').replace('Z', '+00');
}

/** Extract as the server's OS user, so the files are its own (PostgreSQL insists). */
function untar(archive: string, into: string, osUser: OsUser | null): Promise<Step> {
  return new Promise((resolve) => {
    const child = spawn('tar', ['-xzf', archive, '-C', into], { stdio: ['ignore', 'ignore', 'pipe'], ...(osUser ? { uid: osUser.uid, gid: osUser.gid } : {}) });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => resolve({ ok: false, reason: `tar: ${e.message}` }));
    child.on('close', (code) => resolve(code === 0 ? { ok: true } : { ok: false, reason: `tar -xzf ${archive}: ${err.trim().slice(-300)}` }));
  });
}

async function logTail(file: string): Promise<string> {
  try {
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    return lines.filter((l) => /FATAL|PANIC|ERROR|invalid|parameter|LOG:  (recovery|redo|consistent)/.test(l)).slice(-4).join(' | ') || lines.slice(-3).join(' | ');
  } catch {
    return 'no server log';
  }
}
