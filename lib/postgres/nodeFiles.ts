import { readFileSync } from 'node:fs';
import { appendFile, chown, readFile, writeFile } from 'node:fs/promises';
import type { OsUser } from './osUser.ts';

/** Files we write into a data directory must belong to the server's OS user, or PostgreSQL can't rewrite them. */
export async function writeOwnedFile(path: string, text: string, osUser: OsUser | null): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  if (osUser) await chown(path, osUser.uid, osUser.gid);
}

export async function appendOwnedFile(path: string, text: string, osUser: OsUser | null): Promise<void> {
  await appendFile(path, text, { mode: 0o600 });
  if (osUser) await chown(path, osUser.uid, osUser.gid);
}

/** The postmaster's pid from the first line of postmaster.pid, or null when there is none. */
export async function readPostmasterPid(dataDir: string): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(`${dataDir}/postmaster.pid`, 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** True while the process exists and is not a zombie (an exited postmaster may wait a moment to be reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * True when `pid` is the postmaster of `dataDir` (pg_ctl starts it with `-D dataDir`).
 * A stale postmaster.pid may name a pid since reused by an unrelated process: never signal that one.
 */
export function isPostmasterOf(pid: number, dataDir: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.some((a) => a.endsWith('postgres')) && args.includes(dataDir);
  } catch {
    return false;
  }
}

/** Waits until the process is gone; false if it is still there at the deadline. */
export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}
