import { spawn } from 'node:child_process';
import type { HostCommand } from './vipCommands.ts';

export interface HostCommandResult {
  ok: boolean;
  /** The program is not installed (ENOENT). */
  missing: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

const OUTPUT_LIMIT = 64 * 1024;

/** Runs `ip` or `arping` from the system paths, with a minimal environment, bounded in time. Never throws. */
export function runHostCommand(c: HostCommand, timeoutMs = 5_000): Promise<HostCommandResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const finish = (r: Omit<HostCommandResult, 'stdout' | 'stderr'>, extra = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, stdout, stderr: `${stderr}${extra}` });
    };
    const child = spawn(c.cmd, c.args, {
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ ok: false, missing: false, code: null }, `${c.cmd} timed out after ${timeoutMs} ms`);
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < OUTPUT_LIMIT) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < OUTPUT_LIMIT) stderr += d;
    });
    child.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, missing: e.code === 'ENOENT', code: null }, `${c.cmd}: ${e.message}`));
    child.on('close', (code) => finish({ ok: code === 0, missing: false, code }));
  });
}

/** The last lines of what the command said, for a reason a person can act on. */
export function commandTail(r: HostCommandResult): string {
  return (r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`).split('\n').slice(-3).join(' | ');
}
