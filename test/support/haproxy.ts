import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalPipeline } from '../../lib/local/localPipeline.ts';
import { waitFor } from './waitFor.ts';

/** Where `haproxy` is, or null (the tests that need it skip, saying so). */
export function haproxyBinary(): string | null {
  const r = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  return r.status === 0 ? 'haproxy' : null;
}

/** HAProxy's health checks: every CHECK_INTER_MS, a server marked down after CHECK_FALL failures. */
export const CHECK_INTER_MS = 200;
export const CHECK_FALL = 2;

export interface HaproxyPorts {
  /** The primary listener: writes. */
  primary: number;
  /** The replica listener: reads from standbys within 1 MB. */
  replicas: number;
  /** The stats page (CSV at `/;csv`): tests wait on server states through it. */
  stats: number;
}

/**
 * A Patroni-style HAProxy config in front of a pipeline: the health checks go to each node's
 * agent (its listen port), the traffic to its PostgreSQL port. Short checks for tests.
 */
export function patroniStyleConfig(p: LocalPipeline, ports: HaproxyPorts): string {
  const servers = p.spec.nodes.map((n) => `    server ${n.name} ${n.host}:${n.port} maxconn 100 check port ${new URL(n.agent).port}`).join('\n');
  return `global
    maxconn 500

defaults
    mode tcp
    retries 2
    timeout connect 1s
    timeout client 30m
    timeout server 30m
    timeout check 1s

listen stats
    mode http
    bind 127.0.0.1:${ports.stats}
    stats enable
    stats uri /

listen primary
    bind 127.0.0.1:${ports.primary}
    option httpchk OPTIONS /primary
    http-check expect status 200
    default-server inter ${CHECK_INTER_MS}ms fall ${CHECK_FALL} rise 1 on-marked-down shutdown-sessions
${servers}

listen replicas
    bind 127.0.0.1:${ports.replicas}
    balance roundrobin
    option httpchk OPTIONS /replica?lag=1MB
    http-check expect status 200
    default-server inter ${CHECK_INTER_MS}ms fall ${CHECK_FALL} rise 1 on-marked-down shutdown-sessions
${servers}
`;
}

export interface RunningHaproxy {
  primaryUrl: string;
  replicaUrl: string;
  config: string;
  /** Server name → UP/DOWN/… in one listener, from the stats CSV. */
  servers(listener: 'primary' | 'replicas'): Promise<Record<string, string>>;
  /** Null while it runs; how it ended (and its last words) once it has. */
  exited(): string | null;
  stop(): Promise<void>;
}

/** Starts `haproxy -f cfg -db` as a child (never daemonized) and waits until it serves its stats page. */
export async function startHaproxy(p: LocalPipeline, ports: HaproxyPorts): Promise<RunningHaproxy> {
  const dir = await mkdtemp(join(tmpdir(), 'pgvigil-haproxy-'));
  const cfg = join(dir, 'haproxy.cfg');
  const config = patroniStyleConfig(p, ports);
  await writeFile(cfg, config);
  const check = spawnSync('haproxy', ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c refused the config: ${check.stderr || check.stdout}`);
  const child: ChildProcess = spawn('haproxy', ['-f', cfg, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
  let ended: string | null = null;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      ended = `haproxy exited (${signal ?? `code ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
      resolve();
    }),
  );
  const signal = (sig: NodeJS.Signals) => {
    if (ended === null && child.pid) process.kill(child.pid, sig);
  };
  const servers = async (listener: 'primary' | 'replicas') => {
    const text = await (await fetch(`http://127.0.0.1:${ports.stats}/;csv`)).text();
    const out: Record<string, string> = {};
    for (const line of text.split('\n')) {
      const f = line.split(',');
      // pxname, svname, …, status is the 18th field.
      if (f[0] === listener && f[1] !== 'FRONTEND' && f[1] !== 'BACKEND' && f[1] !== undefined) out[f[1]] = f[17] ?? '';
    }
    return out;
  };
  const stop = async () => {
    signal('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
    signal('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('haproxy to serve its stats page', async () => {
      if (ended !== null) throw new Error(ended);
      return Object.keys(await servers('primary')).length === p.spec.nodes.length;
    }, 10_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { primaryUrl: `postgresql://postgres@127.0.0.1:${ports.primary}/postgres`, replicaUrl: `postgresql://postgres@127.0.0.1:${ports.replicas}/postgres`, config, servers, exited: () => ended, stop };
}
