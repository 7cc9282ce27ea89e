import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { PgBouncerSpecInput } from '../../lib/domain/spec.ts';
import { ensurePgOsUser } from '../../lib/postgres/osUser.ts';
import { waitFor } from './waitFor.ts';

/** Where Debian's `pgbouncer` is, or null (the tests that need it skip, saying so). */
export function pgbouncerBinary(): string | null {
  for (const bin of ['pgbouncer', '/usr/sbin/pgbouncer']) {
    const r = spawnSync(bin, ['-V'], { encoding: 'utf8' });
    if (r.status === 0) return bin;
  }
  return null;
}

export interface RunningPgBouncer {
  port: number;
  /** The admin console, as the spec takes it (no password: trust). */
  admin: string;
  databasesFile: string;
  /** The spec's pgbouncer part for a cluster whose database is postgres. */
  spec: PgBouncerSpecInput;
  /** postgres@ through PgBouncer to database `db`. */
  url(db?: string): string;
  log(): Promise<string>;
  exited(): string | null;
  /** SIGSTOP / SIGCONT: a PgBouncer that accepts connections (the kernel does) but answers nothing. */
  signal(sig: NodeJS.Signals): void;
  stop(): Promise<void>;
}

/**
 * Starts Debian's pgbouncer in the foreground as a child, in transaction mode, on 127.0.0.1:port,
 * as the unprivileged OS user PostgreSQL runs as (PgBouncer refuses root). Its ini `%include`s
 * the [databases] file pgvigil rewrites; that file starts empty until pgvigil points it.
 */
export async function startPgBouncer(port: number, opts: { poolSize?: number } = {}): Promise<RunningPgBouncer> {
  const bin = pgbouncerBinary();
  if (!bin) throw new Error('pgbouncer is not installed: run scripts/setup.sh as root (apt-get install pgbouncer)');
  const osUser = ensurePgOsUser();
  const dir = await mkdtemp(join(tmpdir(), 'pgvigil-pgbouncer-'));
  const ini = join(dir, 'pgbouncer.ini');
  const databasesFile = join(dir, 'databases.ini');
  const logFile = join(dir, 'pgbouncer.log');
  await writeFile(join(dir, 'userlist.txt'), '"postgres" ""\n"pgvigil" ""\n');
  await writeFile(databasesFile, '[databases]\n', { mode: 0o644 });
  await writeFile(
    ini,
    [
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'admin_users = pgvigil',
      'pool_mode = transaction',
      `default_pool_size = ${opts.poolSize ?? 20}`,
      'max_client_conn = 200',
      `logfile = ${logFile}`,
      // Last: the included file opens its own [databases] section.
      `%include ${databasesFile}`,
      '',
    ].join('\n'),
  );
  if (osUser) {
    await chown(dir, osUser.uid, osUser.gid);
    for (const f of ['pgbouncer.ini', 'userlist.txt', 'databases.ini']) await chown(join(dir, f), osUser.uid, osUser.gid);
  }
  const child: ChildProcess = spawn(bin, [ini], { stdio: ['ignore', 'ignore', 'pipe'], ...(osUser ? { uid: osUser.uid, gid: osUser.gid } : {}) });
  let stderr = '';
  let exit: string | null = null;
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
  child.on('exit', (code, signal) => (exit = `pgbouncer exited (${code ?? signal}): ${stderr.trim()}`));
  const admin = `postgresql://pgvigil@127.0.0.1:${port}/pgbouncer`;
  await waitFor(
    `pgbouncer to serve its admin console on ${port}`,
    async () => {
      if (exit) throw new Error(exit);
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'pgvigil', database: 'pgbouncer', connectionTimeoutMillis: 1_000 });
      c.on('error', () => {});
      try {
        await c.connect();
        await c.query('SHOW VERSION;');
        return true;
      } finally {
        await c.end().catch(() => {});
      }
    },
    15_000,
    100,
  );
  return {
    port,
    admin,
    databasesFile,
    spec: { instances: [{ admin, databasesFile }], databases: [{ name: 'postgres' }] },
    url: (db = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${db}`,
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    exited: () => exit,
    signal: (sig) => void child.kill(sig),
    async stop() {
      if (exit === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGQUIT'); // immediate shutdown
        await gone;
      }
      if (process.env['PGVIGIL_TEST_KEEP']) process.stderr.write(`kept ${dir}\n`);
      else await rm(dir, { recursive: true, force: true });
    },
  };
}
