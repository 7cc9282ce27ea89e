import { spawnSync } from 'node:child_process';

/** The unprivileged account PostgreSQL runs as when we are root. */
export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/**
 * PostgreSQL refuses to run as root. As root, returns (creating it if missing) the
 * system user that every server and PG tool runs as; otherwise null: run as ourselves.
 * Throws only when root cannot create or read the user, which leaves nothing to run as.
 */
export function ensurePgOsUser(name = 'pgvigil'): OsUser | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const existing = lookupUser(name);
  if (existing) return existing;
  const r = spawnSync('useradd', ['--system', '--create-home', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' });
  // Exit 9: another process created it meanwhile, which is fine.
  if (r.status !== 0 && r.status !== 9) {
    throw new Error(`could not create OS user ${name} (useradd: ${(r.stderr || r.error?.message || '').trim()}): create it with \`useradd --system --create-home ${name}\``);
  }
  const created = lookupUser(name);
  if (!created) throw new Error(`OS user ${name} not found after useradd`);
  return created;
}

function lookupUser(name: string): OsUser | null {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  // name:x:uid:gid:gecos:home:shell
  const f = r.stdout.trim().split(':');
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  const home = f[5];
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || !home) return null;
  return { name, uid, gid, home };
}
