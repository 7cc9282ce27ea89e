import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import { startLocalPipeline, type LocalPipeline, type LocalPipelineOptions } from '../../lib/local/localPipeline.ts';
import { waitFor } from './waitFor.ts';
import { type Log, silentLog } from '../../lib/log.ts';

export interface TestPipeline extends LocalPipeline {
  /** The temp work dir: `pgvigil … --workdir` finds the store through it. */
  workDir: string;
  /** Every decision event appended so far, in order. */
  events: DecisionEvent[];
  dispose(): Promise<void>;
}

/** A local pipeline for a test file, on its own ports and temp dir, logging only when PGVIGIL_TEST_LOG is set (PGVIGIL_TEST_KEEP keeps the dir). */
export async function startTestPipeline(basePort: number, opts: Partial<LocalPipelineOptions> = {}): Promise<TestPipeline> {
  const workDir = await mkdtemp(join(tmpdir(), 'pgvigil-e2e-'));
  const events: DecisionEvent[] = [];
  const log: Log = process.env['PGVIGIL_TEST_LOG'] ? (e) => process.stderr.write(`${JSON.stringify(e)}\n`) : silentLog;
  const p = await startLocalPipeline({
    workDir,
    basePort,
    log,
    ...opts,
    onDecision: (seq, evs) => {
      events.push(...evs);
      opts.onDecision?.(seq, evs);
      if (process.env['PGVIGIL_TEST_LOG']) for (const e of evs) process.stderr.write(`  [${seq}] t${e.term} ${e.type} ${e.reason}\n`);
    },
  });
  const t = Object.assign(p, {
    workDir,
    events,
    async dispose() {
      await p.stop();
      // PGVIGIL_TEST_KEEP keeps the agents' logs and data directories to look at after a failure.
      if (process.env['PGVIGIL_TEST_KEEP']) process.stderr.write(`kept ${workDir}\n`);
      else await rm(workDir, { recursive: true, force: true });
    },
  });
  await waitFor('the cluster to be healthy under the control plane', async () => (await roles(t)).filter((r) => r === 'standby').length === p.cluster.nodes.length - 1, 60_000);
  return t;
}

/** What each node says it is right now, asked directly: 'primary', 'standby' or 'down'. */
export async function roles(p: LocalPipeline): Promise<string[]> {
  return Promise.all(p.cluster.nodes.map((n) => roleOf(p, n.name)));
}

export async function roleOf(p: LocalPipeline, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: p.cluster.connectionString(name), connectionTimeoutMillis: 1_000 });
  // A server going away mid-test must fail the awaited call, not crash the process.
  c.on('error', () => {});
  try {
    await c.connect();
    const { rows } = await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    return rows[0]?.r ? 'standby' : 'primary';
  } catch {
    return 'down';
  } finally {
    await c.end().catch(() => {});
  }
}

/** The node a standby streams from, by its WAL receiver's sender port. */
export async function upstreamOf(p: LocalPipeline, name: string): Promise<string | null> {
  const c = new pg.Client({ connectionString: p.cluster.connectionString(name), connectionTimeoutMillis: 1_000 });
  // A server going away mid-test must fail the awaited call, not crash the process.
  c.on('error', () => {});
  try {
    await c.connect();
    const { rows } = await c.query<{ port: number | null; status: string }>('SELECT sender_port AS port, status FROM pg_stat_wal_receiver');
    const row = rows[0];
    if (!row || row.status !== 'streaming') return null;
    return p.cluster.nodes.find((n) => n.port === row.port)?.name ?? null;
  } catch {
    return null;
  } finally {
    await c.end().catch(() => {});
  }
}

/** SIGKILL a node's postmaster and its agent: a crashed host process, as the e2e and bench trials need. */
export async function crashNode(p: LocalPipeline, name: string): Promise<void> {
  const pid = await p.cluster.postmasterPid(name);
  if (pid) process.kill(pid, 'SIGKILL');
  await p.agents.get(name)?.stop({ kill: true });
}

/** Every process of a node: its postmaster, the postmaster's children, and its agent. */
export async function nodePids(p: LocalPipeline, name: string): Promise<number[]> {
  const pid = await p.cluster.postmasterPid(name);
  const { readdir, readFile } = await import('node:fs/promises');
  const pids: number[] = [];
  if (pid) {
    pids.push(pid);
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) pids.push(Number(entry));
    }
  }
  const agent = p.agents.get(name)?.pid();
  if (agent) pids.push(agent);
  return pids;
}

export function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export const eventTypes = (p: TestPipeline): string[] => p.events.map((e) => e.type);
