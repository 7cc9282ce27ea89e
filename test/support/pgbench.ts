import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface PgbenchRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Lines in which pgbench reports a client error or an aborted client. */
  errors: string[];
  /** Resolves once pgbench prints its first progress line (it is running transactions). */
  running: Promise<void>;
}

/**
 * Runs PostgreSQL's pgbench (a client: it runs as whoever runs the tests) against one port.
 * `connectPerTx` is -C: a new connection for every transaction.
 */
export function pgbench(bindir: string, args: readonly string[]): { done: Promise<PgbenchRun>; running: Promise<void> } {
  const child = spawn(join(bindir, 'pgbench'), [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PGCONNECT_TIMEOUT: '30' } });
  let stdout = '';
  let stderr = '';
  let markRunning: () => void = () => {};
  const running = new Promise<void>((resolve) => (markRunning = resolve));
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (/progress: /.test(stderr)) markRunning();
  });
  const done = new Promise<PgbenchRun>((resolve) =>
    child.on('close', (code) => {
      markRunning();
      const errors = (stdout + stderr).split('\n').filter((l) => /^pgbench: error|aborted|could not|terminat/i.test(l));
      resolve({ code, stdout, stderr, errors, running });
    }),
  );
  return { done, running };
}

/** The connection options pgbench takes for a port on 127.0.0.1 as postgres. */
export const pgbenchConn = (port: number): string[] => ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'];
