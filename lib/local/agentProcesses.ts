import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AgentConfigInput } from '../agent/agentConfig.ts';
import { isAlive, waitGone } from '../postgres/nodeFiles.ts';
import type { StoreConfig } from '../store/storeConfig.ts';
import { localArchiveTarget } from './localArchive.ts';
import type { LocalNode } from './localCluster.ts';

export interface LocalAgent {
  node: string;
  url: string;
  port: number;
  configPath: string;
  pid(): number | null;
  /** Start (or restart) the agent process. */
  start(): Promise<void>;
  /** SIGTERM and wait; SIGKILL when `kill` is set, as a crash would. */
  stop(opts?: { kill?: boolean }): Promise<void>;
}

export interface LocalAgentOptions {
  cluster: string;
  node: LocalNode;
  port: number;
  bindir: string;
  osUser: string | null;
  keyFile: string;
  workDir: string;
  store: StoreConfig;
  lease: { ttlMs: number; renewEveryMs: number };
  /** The bundled agent (bundleAgent). */
  agentScript: string;
}

/**
 * The config of a local node's agent: it listens on 127.0.0.1:`port` and drives the node's
 * PostgreSQL. The namespace lab (test/support/netnsAgent.ts) overrides `listen` and adds `vip`.
 */
export function localAgentConfig(o: {
  cluster: string;
  node: { name: string; host: string; port: number; dataDir: string };
  port: number;
  bindir: string;
  osUser: string | null;
  keyFile: string;
  stateDir: string;
  store: StoreConfig;
  lease: { ttlMs: number; renewEveryMs: number };
  archive?: AgentConfigInput['archive'];
}): AgentConfigInput {
  return {
    cluster: o.cluster,
    node: o.node.name,
    listen: { host: '127.0.0.1', port: o.port },
    dataDir: o.node.dataDir,
    bindir: o.bindir,
    pgPort: o.node.port,
    pgHost: o.node.host,
    ...(o.osUser ? { osUser: o.osUser } : {}),
    keyFile: o.keyFile,
    stateDir: o.stateDir,
    store: o.store,
    lease: o.lease,
    ...(o.archive ? { archive: o.archive } : {}),
  };
}

/** One agent per local node, a child process like the systemd service on a real host. */
export async function prepareLocalAgent(o: LocalAgentOptions): Promise<LocalAgent> {
  const dir = join(o.workDir, 'agents', o.node.name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const config = localAgentConfig({ ...o, stateDir: dir, archive: localArchiveTarget(o.workDir) });
  const configPath = join(dir, 'agent.json');
  await writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  const url = `http://127.0.0.1:${o.port}`;
  const proc = agentProcess({ url, configPath, logPath: join(dir, 'agent.log'), agentScript: o.agentScript });
  return { node: o.node.name, url, port: o.port, configPath, pid: proc.pid, start: proc.start, stop: proc.stop };
}

export interface AgentProcess {
  pid(): number | null;
  /** Start (or restart) it and wait until it answers HTTP. */
  start(): Promise<void>;
  /** SIGTERM and wait; SIGKILL when `kill` is set, as a crash would. */
  stop(opts?: { kill?: boolean }): Promise<void>;
}

/**
 * One agent child process, supervised like a systemd service: its output appended to
 * `logPath`, started with no key in its environment (it reads its key file), SIGKILLed if
 * SIGTERM doesn't end it within 5 s. `prefix` runs it through another command, e.g.
 * `ip netns exec NS`, which execs in place so the child's pid stays the agent's.
 *
 * It runs in its own process group, so a Ctrl-C at the terminal reaches `pgvigil up` only,
 * which stops the agents in order. Its pid is kept in `agent.pid` next to its config: an
 * agent a previous run left behind (its `up` was killed) is stopped before a new one starts.
 */
export function agentProcess(o: { url: string; configPath: string; logPath: string; agentScript: string; prefix?: string[] }): AgentProcess {
  let child: ChildProcess | null = null;
  const pidPath = join(dirname(o.configPath), 'agent.pid');
  return {
    pid: () => child?.pid ?? null,
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) return;
      await stopLeftAgent(pidPath, o.configPath);
      const log = createWriteStream(o.logPath, { flags: 'a' });
      await new Promise<void>((r) => log.once('open', () => r()));
      const [cmd, ...args] = [...(o.prefix ?? []), process.execPath, o.agentScript, '--config', o.configPath];
      const proc = spawn(cmd!, args, {
        stdio: ['ignore', log, log],
        detached: true,
        env: { ...process.env, PGVIGIL_AGENT_KEY: '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      });
      child = proc;
      if (proc.pid !== undefined) await writeFile(pidPath, `${proc.pid}\n`);
      await waitListening(o.url, proc, o.logPath);
    },
    async stop(opts = {}) {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill(opts.kill ? 'SIGKILL' : 'SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
      await rm(pidPath, { force: true });
    },
  };
}

/** Stop the agent of this config a previous run left running, if its pid file names one (and not a reused pid). */
async function stopLeftAgent(pidPath: string, configPath: string): Promise<void> {
  const pid = Number((await readFile(pidPath, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isAgentOf(pid, configPath)) return;
  process.kill(pid, 'SIGTERM');
  if (!(await waitGone(pid, 5_000)) && isAgentOf(pid, configPath)) {
    process.kill(pid, 'SIGKILL');
    await waitGone(pid, 5_000);
  }
}

function isAgentOf(pid: number, configPath: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(configPath);
  } catch {
    return false;
  }
}

/** The agent answers HTTP (an unsigned request gets 401) once it listens. */
async function waitListening(url: string, proc: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`agent at ${url} exited with code ${proc.exitCode}: see ${logPath}`);
    try {
      await fetch(`${url}/v1/actions/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(500) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`agent at ${url} did not start listening within 20 s: see ${logPath}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
