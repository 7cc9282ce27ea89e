import { chown, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { delay, tail, type PgServer } from '../postgres/pgServer.ts';
import { REPLICATION_USER } from '../postgres/standbyConf.ts';
import type { ArchiveStore } from './archiveStore.ts';
import { BackupManifest, MANIFEST, backupIdFor, backupKey } from './backupManifest.ts';
import { countRows } from './rowCounts.ts';
import { walFileFor } from './walNames.ts';

export type BackupProgress = (step: string) => void;

export type TakeBackupOutcome = { ok: true; manifest: BackupManifest; ms: number } | { ok: false; reason: string };

const PAUSE_WAIT_MS = 15_000;

/**
 * A compressed base backup of this host's standby, into the archive. Replay is paused for
 * its duration, so the backup ends exactly where the row counts are taken (a restore to
 * the backup's end must show the same counts), and resumed whatever happens. The primary
 * serves nothing: pg_basebackup reads this standby, and WAL for the backup is streamed from it.
 * Files are uploaded first and the manifest last; a backup without one is incomplete.
 */
export async function takeBackup(o: {
  pg: PgServer;
  archive: ArchiveStore;
  cluster: string;
  node: string;
  /** A standby only, unless the operator insists (a one-node cluster). */
  allowPrimary?: boolean;
  progress?: BackupProgress;
}): Promise<TakeBackupOutcome> {
  const { pg } = o;
  const progress = o.progress ?? (() => {});
  const started = new Date();
  const facts = await pg.sql<{ recovery: boolean; version: number; sysid: string }>(
    "SELECT pg_is_in_recovery() AS recovery, current_setting('server_version_num')::int AS version, (SELECT system_identifier::text FROM pg_control_system()) AS sysid",
  );
  if (!facts.ok) return { ok: false, reason: `PostgreSQL here does not answer: ${facts.reason}` };
  const { recovery, version, sysid } = facts.rows[0]!;
  if (!recovery && !o.allowPrimary) return { ok: false, reason: `${o.node} is the primary: take backups from a standby (pgvigil backup --from <standby>)` };

  const id = backupIdFor(started, o.node);
  const work = `${pg.dataDir}.backup-${id}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { mode: 0o700 });
  if (pg.o.osUser) await chown(work, pg.o.osUser.uid, pg.o.osUser.gid);
  let paused = false;
  try {
    if (recovery) {
      const p = await pauseReplay(pg);
      if (!p.ok) return p;
      paused = true;
    }
    progress(`pg_basebackup of ${o.node} (compressed tar, WAL streamed from ${o.node})`);
    const r = await pg.run(
      'pg_basebackup',
      ['-h', pg.target.host, '-p', String(pg.target.port), '-U', REPLICATION_USER, '-D', work, '-F', 't', '-z', '-X', 'stream', '-c', 'fast', '-v'],
      6 * 60 * 60_000,
    );
    if (!r.ok) return { ok: false, reason: `pg_basebackup: ${tail(r)}` };
    const points = parseBackupPoints(r.stderr);
    if (!points) return { ok: false, reason: `pg_basebackup did not report its start and end points: ${tail(r)}` };
    progress('counting rows (replay is paused at the backup end)');
    const counted = await countRows(pg.target);
    if (!counted.ok) return { ok: false, reason: `row counts: ${counted.reason}` };
    if (paused) {
      await resumeReplay(pg);
      paused = false;
    }
    const files = [];
    for (const name of (await readdir(work)).sort()) {
      progress(`uploading ${name} to ${o.archive.where}`);
      const put = await o.archive.putFile(backupKey(id, name), join(work, name));
      if (!put.ok) return put;
      files.push({ name, bytes: (await stat(join(work, name))).size });
    }
    const manifest: BackupManifest = {
      format: 1,
      id,
      cluster: o.cluster,
      node: o.node,
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      serverVersionNum: version,
      systemIdentifier: sysid,
      timeline: points.timeline,
      startLsn: points.start,
      stopLsn: points.stop,
      startWalFile: walFileFor(points.timeline, points.start),
      files,
      rowCounts: counted.counts,
    };
    const put = await o.archive.putText(backupKey(id, MANIFEST), `${JSON.stringify(BackupManifest.parse(manifest), null, 2)}\n`);
    if (!put.ok) return put;
    return { ok: true, manifest, ms: Date.now() - started.getTime() };
  } finally {
    if (paused) await resumeReplay(pg);
    await rm(work, { recursive: true, force: true });
  }
}

async function pauseReplay(pg: PgServer): Promise<{ ok: true } | { ok: false; reason: string }> {
  const r = await pg.sql('SELECT pg_wal_replay_pause()');
  if (!r.ok) return { ok: false, reason: `pausing replay: ${r.reason}` };
  const deadline = Date.now() + PAUSE_WAIT_MS;
  for (;;) {
    const s = await pg.sql<{ state: string }>('SELECT pg_get_wal_replay_pause_state() AS state');
    if (s.ok && s.rows[0]?.state === 'paused') return { ok: true };
    if (Date.now() > deadline) {
      await resumeReplay(pg);
      return { ok: false, reason: `replay did not pause within ${PAUSE_WAIT_MS} ms` };
    }
    await delay(20);
  }
}

async function resumeReplay(pg: PgServer): Promise<void> {
  await pg.sql('SELECT pg_wal_replay_resume()');
}

/** From `pg_basebackup -v`: "write-ahead log start point: 0/2000028 on timeline 1" and "end point: 0/2000100". */
export function parseBackupPoints(stderr: string): { start: string; stop: string; timeline: number } | null {
  const start = /write-ahead log start point: ([0-9A-F]+\/[0-9A-F]+) on timeline (\d+)/i.exec(stderr);
  const stop = /write-ahead log end point: ([0-9A-F]+\/[0-9A-F]+)/i.exec(stderr);
  if (!start || !stop) return null;
  return { start: start[1]!, stop: stop[1]!, timeline: Number(start[2]) };
}
