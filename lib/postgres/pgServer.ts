import { chown, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OsUser } from './osUser.ts';
import { isAlive, readPostmasterPid } from './nodeFiles.ts';
import { parseControlData, type ControlData } from './controlData.ts';
import { runPg, type PgCommandResult } from './pgCommand.ts';
import { sql, type SqlResult } from './pgSql.ts';
import type { Log } from '../log.ts';

export type PgOutcome = { ok: true } | { ok: false; reason: string };

export interface PgServerOptions {
  dataDir: string;
  bindir: string;
  host: string;
  port: number;
  /** Every PG tool runs as this user (we may be root; PostgreSQL refuses root). */
  osUser: OsUser | null;
  log: Log;
  /** Extra environment for every tool (the replication login of pg_basebackup and pg_rewind); paths only, no secrets. */
  toolEnv?: Record<string, string>;
}

/** The PostgreSQL server on this host, driven through its own tools as its OS user. */
export class PgServer {
  constructor(readonly o: PgServerOptions) {}

  get dataDir(): string {
    return this.o.dataDir;
  }

  get target(): { host: string; port: number } {
    return { host: this.o.host, port: this.o.port };
  }

  run(tool: string, args: string[], timeoutMs = 60_000): Promise<PgCommandResult> {
    return runPg(this.o.bindir, tool, args, { osUser: this.o.osUser, timeoutMs, ...(this.o.toolEnv ? { env: this.o.toolEnv } : {}) });
  }

  sql<R extends Record<string, unknown>>(text: string, values: unknown[] = [], timeoutMs = 3_000): Promise<SqlResult<R>> {
    return sql<R>(this.target, text, values, timeoutMs);
  }

  /** The postmaster pid when one is alive, else null (a stale postmaster.pid counts as not running). */
  async postmasterPid(): Promise<number | null> {
    const pid = await readPostmasterPid(this.o.dataDir);
    return pid !== null && isAlive(pid) ? pid : null;
  }

  /** pg_ctl's own verdict: exit 0 running, 3 not running, 4 no data directory. */
  async ctlStatus(): Promise<'running' | 'stopped' | 'no data directory' | 'unknown'> {
    const r = await this.run('pg_ctl', ['status', '-D', this.o.dataDir], 10_000);
    if (r.code === 0) return 'running';
    if (r.code === 3) return 'stopped';
    if (r.code === 4) return 'no data directory';
    return 'unknown';
  }

  async start(timeoutSec = 60): Promise<PgOutcome> {
    const r = await this.run(
      'pg_ctl',
      ['start', '-w', '-t', String(timeoutSec), '-D', this.o.dataDir, '-l', join(this.o.dataDir, 'postmaster.log')],
      (timeoutSec + 10) * 1000,
    );
    return r.ok ? { ok: true } : { ok: false, reason: `pg_ctl start: ${tail(r)}` };
  }

  async stop(mode: 'fast' | 'immediate', timeoutSec: number): Promise<PgOutcome> {
    const r = await this.run('pg_ctl', ['stop', '-w', '-t', String(timeoutSec), '-m', mode, '-D', this.o.dataDir], (timeoutSec + 5) * 1000);
    if (r.ok || (await this.postmasterPid()) === null) return { ok: true };
    return { ok: false, reason: `pg_ctl stop -m ${mode}: ${tail(r)}` };
  }

  /**
   * Stop now, whatever it takes: fast (clean, short wait), then immediate, then SIGKILL of
   * the postmaster and its children. Ok only when no postmaster is left.
   */
  async stopNow(fastTimeoutSec = 3): Promise<PgOutcome & { how?: string }> {
    const pid = await this.postmasterPid();
    if (pid === null) return { ok: true, how: 'not running' };
    // A frozen (SIGSTOPped) postmaster can't act on pg_ctl's signal.
    signal(pid, 'SIGCONT');
    if (fastTimeoutSec > 0 && (await this.stop('fast', fastTimeoutSec)).ok) return { ok: true, how: 'fast' };
    if ((await this.stop('immediate', 5)).ok) return { ok: true, how: 'immediate' };
    this.o.log({ level: 'warn', msg: 'pg_ctl could not stop PostgreSQL: killing the postmaster and its children', pid });
    for (const child of await childrenOf(pid)) signal(child, 'SIGKILL');
    signal(pid, 'SIGKILL');
    const deadline = Date.now() + 5_000;
    while (isAlive(pid) && Date.now() < deadline) await delay(20);
    return isAlive(pid) ? { ok: false, reason: `postmaster ${pid} survived SIGKILL` } : { ok: true, how: 'SIGKILL' };
  }

  async controlData(): Promise<ControlData | { error: string }> {
    const r = await this.run('pg_controldata', ['-D', this.o.dataDir], 10_000);
    if (!r.ok) return { error: `pg_controldata: ${tail(r)}` };
    return parseControlData(r.stdout);
  }

  /** The major version the data directory was made by, or null when there is none. */
  async dataMajorVersion(): Promise<number | null> {
    try {
      const v = Number((await readFile(join(this.o.dataDir, 'PG_VERSION'), 'utf8')).trim());
      return Number.isInteger(v) ? v : null;
    } catch {
      return null;
    }
  }

  /** Writes a file in the data directory owned by the server's user, or it couldn't rewrite it. */
  async writeDataFile(name: string, text: string): Promise<void> {
    const path = join(this.o.dataDir, name);
    await writeFile(path, text, { mode: 0o600 });
    if (this.o.osUser) await chown(path, this.o.osUser.uid, this.o.osUser.gid);
  }

  async readDataFile(name: string): Promise<string | null> {
    try {
      return await readFile(join(this.o.dataDir, name), 'utf8');
    } catch {
      return null;
    }
  }

  /** The server log's path: the logging collector's file when there is one, else pg_ctl's -l file. */
  private async logPath(): Promise<string> {
    const collector = join(this.o.dataDir, 'log', 'postgresql.log');
    return (await stat(collector).catch(() => null)) ? collector : join(this.o.dataDir, 'postmaster.log');
  }

  /** Where the log ends now, so a later read sees only what the server says after this point. */
  async logMark(): Promise<{ path: string; size: number }> {
    const path = await this.logPath();
    return { path, size: (await stat(path).catch(() => null))?.size ?? 0 };
  }

  /** The log written since `mark` (or the whole current log), at most the last 64 KiB. */
  async logSince(mark?: { path: string; size: number }): Promise<string> {
    const path = await this.logPath();
    const text = (await readFile(path, 'utf8').catch(() => '')) ?? '';
    const from = mark && mark.path === path && mark.size <= text.length ? mark.size : 0;
    return text.slice(Math.max(from, text.length - 64 * 1024));
  }
}

export function tail(r: PgCommandResult): string {
  const text = (r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`).split('\n');
  return text.slice(-5).join(' | ');
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already, or not ours: the caller checks liveness afterwards
  }
}

/** The processes whose parent is `pid` (a postmaster's backends, walsenders, walreceiver). */
export async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // "pid (comm) state ppid …": comm may hold spaces, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) out.push(Number(entry));
  }
  return out;
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
