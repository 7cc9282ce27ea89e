import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDynalite, type DynaliteServer } from '../../lib/local/dynaliteServer.ts';
import type { Log } from '../../lib/log.ts';
import { ensurePgOsUser, type OsUser } from '../../lib/postgres/osUser.ts';
import { findPgBinaries } from '../../lib/postgres/pgBinaries.ts';

/** What a namespace lab test needs before its hosts: the OS user and binaries, a work dir the OS user passes through, a JSON log in it. */
export interface LabRun {
  osUser: OsUser;
  bindir: string;
  workDir: string;
  log: Log;
  closeLog(): Promise<void>;
}

export async function startLabRun(prefix: string): Promise<LabRun> {
  const osUser = ensurePgOsUser();
  if (!osUser) throw new Error('root is needed to run PostgreSQL as the pgvigil OS user');
  const bins = findPgBinaries();
  if (!bins.ok) throw new Error(bins.reason);
  const workDir = await mkdtemp(join(tmpdir(), prefix));
  // Each host's files live below it, owned by the PostgreSQL OS user: it must pass through.
  await chmod(workDir, 0o711);
  const stream: WriteStream = createWriteStream(join(workDir, 'control.log'), { flags: 'a' });
  return {
    osUser,
    bindir: bins.bindir,
    workDir,
    log: (e) => stream.write(`${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`),
    closeLog: () => new Promise<void>((r) => stream.end(() => r())),
  };
}

/** One teardown step that reports its failure and lets the next run. */
export function teardownStep(label: string) {
  return async (what: string, f: () => Promise<unknown> | undefined): Promise<void> => {
    try {
      await f();
    } catch (e) {
      process.stderr.write(`${label} teardown: ${what}: ${(e as Error).message}\n`);
    }
  };
}

/** dynalite on `host`, on the first free port of [from, to). */
export async function startDynaliteInRange(host: string, from: number, to: number): Promise<DynaliteServer> {
  let last: unknown;
  for (let port = from; port < to; port++) {
    try {
      return await startDynalite({ host, port });
    } catch (e) {
      last = e;
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    }
  }
  throw new Error(`no free port in ${from}-${to - 1} on ${host}: ${(last as Error).message}`);
}
