import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { OsUser } from '../postgres/osUser.ts';
import { REPLICATION_USER } from '../postgres/standbyConf.ts';

/** 32 random bytes, URL-safe: no character that needs quoting in a passfile or a conninfo. */
export function generatePassword(): string {
  return randomBytes(32).toString('base64url');
}

/** Writes a secret file atomically, mode 0600, owned by `owner` when given (else by us). */
export async function writeSecretFile(path: string, text: string, owner: OsUser | null = null): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await chmod(tmp, 0o600);
  if (owner) await chown(tmp, owner.uid, owner.gid);
  await rename(tmp, path);
}

/** The password in `path`, generated and written there first when there is none: re-runs keep it. */
export async function ensurePasswordFile(path: string, owner: OsUser | null = null): Promise<string> {
  const existing = await readSecret(path);
  if (existing) return existing;
  const password = generatePassword();
  await writeSecretFile(path, `${password}\n`, owner);
  return password;
}

export async function readSecret(path: string): Promise<string | null> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return text === '' ? null : text;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * libpq passfile of the replication login: any host, port and database, the replication role
 * only. libpq ignores a passfile others can read, hence 0600 and the server's OS user.
 */
export async function writeReplicationPassfile(path: string, password: string, owner: OsUser | null): Promise<void> {
  const escaped = password.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  await writeSecretFile(path, `*:*:*:${REPLICATION_USER}:${escaped}\n`, owner);
}
