import { chown, mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { tail } from '../../postgres/pgServer.ts';
import { REPLICATION_USER } from '../../postgres/standbyConf.ts';
import type { ActionContext } from './actionTypes.ts';
import type { Peer } from './wire.ts';
import { restoreNodeIdentity } from './nodeIdentity.ts';

export type BackupOutcome = { ok: true; ms: number } | { ok: false; reason: string };

/**
 * A fresh copy of `source` in this node's (empty or absent) data directory, with this
 * node's own settings put back. On failure the half-made directory is removed.
 */
export async function baseBackupInto(ctx: ActionContext, source: Peer): Promise<BackupOutcome> {
  const { pg } = ctx;
  const osUser = pg.o.osUser;
  const started = Date.now();
  await mkdir(dirname(pg.dataDir), { recursive: true });
  await mkdir(pg.dataDir, { mode: 0o700 });
  if (osUser) await chown(pg.dataDir, osUser.uid, osUser.gid);
  const r = await pg.run(
    'pg_basebackup',
    ['-h', source.host, '-p', String(source.port), '-U', REPLICATION_USER, '-D', pg.dataDir, '-X', 'stream', '-c', 'fast'],
    30 * 60_000,
  );
  if (!r.ok) {
    await rm(pg.dataDir, { recursive: true, force: true });
    return { ok: false, reason: `pg_basebackup from ${source.name}: ${tail(r)}` };
  }
  await restoreNodeIdentity(ctx);
  return { ok: true, ms: Date.now() - started };
}

/** Moves the data directory aside (kept until its replacement works); answers where it went. */
export async function moveDataDirAside(ctx: ActionContext): Promise<string> {
  const aside = `${ctx.pg.dataDir}.aside-${Date.now()}`;
  await rename(ctx.pg.dataDir, aside);
  return aside;
}

export async function putDataDirBack(ctx: ActionContext, aside: string): Promise<void> {
  await rm(ctx.pg.dataDir, { recursive: true, force: true });
  await rename(aside, ctx.pg.dataDir);
}
