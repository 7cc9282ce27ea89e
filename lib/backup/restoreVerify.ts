import { spawn } from 'node:child_process';
import { chown, mkdir, mkdtemp, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { runPg } from '../postgres/pgCommand.ts';
import { sql } from '../postgres/pgSql.ts';
import { confValue } from '../postgres/autoConf.ts';
import { findFreePort } from '../postgres/freePort.ts';
import { appendOwnedFile, readPostmasterPid } from '../postgres/nodeFiles.ts';
import type { OsUser } from '../postgres/osUser.ts';
import type { ArchiveStore } from './archiveStore.ts';
import { BackupManifest, BackupVerification, MANIFEST, VERIFICATION, backupKey, rowCountDifferences } from './backupManifest.ts';
import { countRows } from './rowCounts.ts';
import { neededForRestore } from './walNames.ts';

export interface VerifyOptions {
  archive: ArchiveStore;
  id: string;
  /** Replay to this time instead of the backup's end; row counts are then reported, not compared. */
  targetTime?: Date;
  bindir: string;
  osUser: OsUser | null;
  /** Where the temporary instance lives (removed afterwards). */
  scratchDir: string;
  /** How long replay may take. */
  recoveryTimeoutMs?: number;
  progress?: (step: string) => void;
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
  const text = await o.archive.getText(backupKey(o.id, MANIFEST));
  if (!text.ok) return text;
  if (text.text === null) return { ok: false, reason: `no backup ${o.id} in ${o.archive.where}: pgvigil backups lists them` };
  let manifest: BackupManifest;
  try {
    manifest = BackupManifest.parse(JSON.parse(text.text));
  } catch (e) {
    return { ok: false, reason: `backup ${o.id}: its manifest does not parse (${(e as Error).message.slice(0, 200)})` };
  }
  const target = o.targetTime ? o.targetTime.toISOString() : 'backup end';
  if (o.targetTime && o.targetTime.getTime() < Date.parse(manifest.startedAt)) {
    return { ok: false, reason: `--target-time ${target} is before backup ${o.id} was taken (${manifest.startedAt}): pick an older backup` };
  }

  await mkdir(o.scratchDir, { recursive: true });
  const tmp = await mkdtemp(join(o.scratchDir, `verify-${o.id}-`));
  const dataDir = join(tmp, 'data');
  const walDir = join(tmp, 'wal');
  let pid: number | null = null;
  const pg = (tool: string, args: string[], timeoutMs = 60_000) => runPg(o.bindir, tool, args, { osUser: o.osUser, timeoutMs });
  const outcome = await (async (): Promise<{ ok: true; verification: BackupVerification } | { ok: false; reason: string }> => {
    for (const d of [tmp, dataDir, walDir]) {
      await mkdir(d, { recursive: true, mode: 0o700 });
      if (o.osUser) await chown(d, o.osUser.uid, o.osUser.gid);
    }
    for (const f of manifest.files.filter((f) => f.name.endsWith('.tar.gz'))) {
      progress(`fetching ${f.name} (${f.bytes} bytes)`);
      const local = join(tmp, f.name);
      const got = await o.archive.getFile(backupKey(o.id, f.name), local);
      if (!got.ok) return got;
      if (!got.found) return { ok: false, reason: `backup ${o.id} lacks ${f.name} in ${o.archive.where}: it is incomplete` };
      if (o.osUser) await chown(local, o.osUser.uid, o.osUser.gid);
      const into = f.name === 'pg_wal.tar.gz' ? join(dataDir, 'pg_wal') : dataDir;
      const x = await untar(local, into, o.osUser);
      if (!x.ok) return x;
      await rm(local, { force: true });
    }
    // Recovery from the archive, not from a primary: drop what made the copy a standby.
    for (const f of ['standby.signal', 'recovery.signal', 'postmaster.pid']) await unlink(join(dataDir, f)).catch(() => {});

    const listed = await o.archive.list('wal/');
    if (!listed.ok) return listed;
    const needed = neededForRestore(listed.objects.map((x) => x.key.slice('wal/'.length)), manifest.startWalFile);
    progress(`fetching ${needed.length} WAL files from ${o.archive.where}`);
    for (const name of needed) {
      const got = await o.archive.getFile(`wal/${name}`, join(walDir, name));
      if (!got.ok) return got;
      if (o.osUser && got.found) await chown(join(walDir, name), o.osUser.uid, o.osUser.gid);
    }

    const port = await findFreePort();
    const overrides: Record<string, string | number> = {
      port,
      listen_addresses: '127.0.0.1',
      unix_socket_directories: '',
      cluster_name: `verify-${o.id}`.slice(0, 60),
      // Its log in one known file, for the reason of a failed start.
      logging_collector: 'off',
      // Never write into the cluster's archive, never wait for a standby, never stream from anyone.
      archive_mode: 'off',
      synchronous_standby_names: '',
      primary_conninfo: '',
      primary_slot_name: '',
      restore_command: `cp "${walDir}/%f" "%p"`,
      recovery_target_action: 'promote',
      recovery_target_timeline: 'latest',
      ...(o.targetTime ? { recovery_target_time: pgTimestamp(o.targetTime) } : { recovery_target: 'immediate' }),
    };
    const lines = Object.entries(overrides).map(([k, v]) => `${k} = ${confValue(v)}`).join('\n');
    await appendOwnedFile(join(dataDir, 'postgresql.auto.conf'), `\n# pgvigil restore --verify\n${lines}\n`, o.osUser);
    await appendOwnedFile(join(dataDir, 'recovery.signal'), '', o.osUser);

    progress(`replaying to ${target} on port ${port}`);
    const logFile = join(tmp, 'postmaster.log');
    const timeoutSec = Math.ceil((o.recoveryTimeoutMs ?? 10 * 60_000) / 1000);
    const deadline = Date.now() + (o.recoveryTimeoutMs ?? 10 * 60_000);
    const replay = async (): Promise<{ ok: true } | { ok: false; reason: string; log: string }> => {
      const start = await pg('pg_ctl', ['start', '-w', '-t', String(timeoutSec), '-D', dataDir, '-l', logFile], (timeoutSec + 10) * 1000);
      pid = await readPostmasterPid(dataDir);
      if (!start.ok) return { ok: false, reason: 'the restored instance did not start', log: await logTail(logFile) };
      for (;;) {
        const r = await sql<{ recovery: boolean }>({ host: '127.0.0.1', port }, 'SELECT pg_is_in_recovery() AS recovery');
        if (r.ok && r.rows[0]?.recovery === false) return { ok: true };
        if (!r.ok && (await readPostmasterPid(dataDir)) === null) return { ok: false, reason: 'recovery stopped', log: await logTail(logFile) };
        if (Date.now() > deadline) return { ok: false, reason: `replay did not reach ${target} within ${o.recoveryTimeoutMs ?? 600_000} ms`, log: await logTail(logFile) };
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
      await appendOwnedFile(join(dataDir, 'postgresql.auto.conf'), "recovery_target = ''\n", o.osUser);
      replayed = await replay();
    }
    if (!replayed.ok) return { ok: false, reason: `${replayed.reason}: ${replayed.log}` };
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
    if (pid !== null || (await readPostmasterPid(dataDir).catch(() => null)) !== null) {
      await pg('pg_ctl', ['stop', '-w', '-t', '30', '-m', 'immediate', '-D', dataDir], 40_000);
    }
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

/** recovery_target_time refuses ISO's `T…Z`: `2026-11-24 03:11:28.691+00`. */
export function pgTimestamp(t: Date): string {
  return t.toISOString().replace('T', ' ').replace('Z', '+00');
}

/** Extract as the server's OS user, so the files are its own (PostgreSQL insists). */
function untar(archive: string, into: string, osUser: OsUser | null): Promise<{ ok: true } | { ok: false; reason: string }> {
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
