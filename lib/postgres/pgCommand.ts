import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { OsUser } from './osUser.ts';

export interface PgCommandResult {
  ok: boolean;
  /** Exit code; null when the tool could not start, was killed or timed out. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface PgCommandOptions {
  /** Run as this user (required when we are root); null runs as ourselves. */
  osUser: OsUser | null;
  /** Extra environment (e.g. PGCONNECT_TIMEOUT); the rest is a minimal fixed set, so our secrets never reach the tool. */
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

const OUTPUT_LIMIT = 256 * 1024;
/** pg_ctl start hands its stdout/stderr to the postmaster unless -l is given: don't wait for those pipes to close. */
const CLOSE_GRACE_MS = 200;

/** Runs a PostgreSQL binary (pg_ctl, initdb, pg_basebackup, pg_rewind…) directly, never through a shell. */
export function runPg(bindir: string, tool: string, args: readonly string[], opts: PgCommandOptions): Promise<PgCommandResult> {
  const user = opts.osUser;
  const home = user?.home ?? process.env.HOME ?? '/tmp';
  const env: Record<string, string> = {
    PATH: `${bindir}:/usr/local/bin:/usr/bin:/bin`,
    HOME: home,
    LC_ALL: 'C',
    LANG: 'C',
    ...(user ? { USER: user.name, LOGNAME: user.name } : {}),
    ...opts.env,
  };
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (code: number | null, extra?: string) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      const err = extra ? `${stderr}${stderr && !stderr.endsWith('\n') ? '\n' : ''}${extra}` : stderr;
      resolve({ ok: code === 0, code, stdout, stderr: err });
    };
    const child = spawn(join(bindir, tool), [...args], {
      env,
      cwd: opts.cwd ?? (user ? user.home : undefined),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < OUTPUT_LIMIT) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < OUTPUT_LIMIT) stderr += d;
    });
    child.on('error', (e) => finish(null, `${tool}: ${e.message}`));
    child.on('close', (code) => finish(code));
    child.on('exit', (code, signal) => {
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(code, signal ? `${tool} killed by ${signal}` : undefined);
      }, CLOSE_GRACE_MS).unref();
    });
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(null, `${tool} timed out after ${opts.timeoutMs} ms`);
      }, opts.timeoutMs);
    }
  });
}
