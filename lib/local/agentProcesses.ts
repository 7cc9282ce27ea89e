import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AgentConfigInput } from '../agent/agentConfig.ts';
import { isAlive, waitGone } from '../postgres/nodeFiles.ts';
import type { StoreConfig } from '../store/storeConfig.ts';
import { localArchiveTarget } from './localArchive.ts';
import { localHostFiles } from './localHostFiles.ts';
import { ensureAgentKeyFile } from './localAgentKeys.ts';
import { replicationAuthOf } from '../host/hostFiles.ts';
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
  workDir: string;
  store: StoreConfig;
  lease: { ttlMs: number; renewEveryMs: number };
  /** The bundled agent (bundleAgent). */
  agentScript: string;
  /** Told once an agent that died was restarted and answers again. */
  onRestart?: (node: string, restart: AgentRestart) => void;
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
  replicationAuth?: AgentConfigInput['replicationAuth'];
  tls?: AgentConfigInput['tls'];
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
    ...(o.replicationAuth ? { replicationAuth: o.replicationAuth } : {}),
    ...(o.tls ? { tls: o.tls } : {}),
  };
}

/** One agent per local node, a child process like the systemd service on a real host. */
export async function prepareLocalAgent(o: LocalAgentOptions): Promise<LocalAgent> {
  const dir = join(o.workDir, 'agents', o.node.name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const host = localHostFiles(o.workDir);
  // A work dir made before local mode had host files (lib/host) keeps its trust-based layout.
  const replicationAuth = existsSync(host.passfile) ? replicationAuthOf(host) : undefined;
  // Its own key, in the work dir: no other node's agent accepts what is signed for this one.
  const keyFile = await ensureAgentKeyFile(o.workDir, o.cluster, o.node.name);
  // The agent channel is HTTPS with the host's certificate (the cluster CA's), as on a bootstrapped host.
  const tls = existsSync(host.serverCert) ? { certFile: host.serverCert, keyFile: host.serverKey } : undefined;
  const config = localAgentConfig({ ...o, keyFile, stateDir: dir, archive: localArchiveTarget(o.workDir), ...(replicationAuth ? { replicationAuth } : {}), ...(tls ? { tls } : {}) });
  const configPath = join(dir, 'agent.json');
  await writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  const url = `http://127.0.0.1:${o.port}`;
  const onRestart = o.onRestart;
  const proc = agentProcess({
    url,
    configPath,
    logPath: join(dir, 'agent.log'),
    agentScript: o.agentScript,
    ...(onRestart ? { onRestart: (r: AgentRestart) => onRestart(o.node.name, r) } : {}),
  });
  return { node: o.node.name, url, port: o.port, configPath, pid: proc.pid, start: proc.start, stop: proc.stop };
}

export interface AgentProcess {
  pid(): number | null;
  /** Start it (supervised from then on) and wait until it answers HTTP. */
  start(): Promise<void>;
  /** SIGTERM and wait; SIGKILL when `kill` is set, as a crash would. Either way it stays stopped until start. */
  stop(opts?: { kill?: boolean }): Promise<void>;
}

/** How the supervisor restarts an agent that died: after a back-off that doubles up to a ceiling, reset once a run lasted. */
export interface RestartPolicy {
  firstDelayMs: number;
  maxDelayMs: number;
  /** A run at least this long counts as healthy: the next restart waits firstDelayMs again. */
  resetAfterMs: number;
}

export const RESTART_POLICY: RestartPolicy = { firstDelayMs: 100, maxDelayMs: 5_000, resetAfterMs: 10_000 };

/** One restart of an agent that died, told once the new process answers. */
export interface AgentRestart {
  /** How the dead process ended. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Restarts since the supervisor began, this one included. */
  restarts: number;
  /** How long the dead process had run, and how long the supervisor waited before starting it again. */
  ranMs: number;
  backoffMs: number;
}

/** The restart in words, for the decision log. */
export function restartReason(r: AgentRestart): string {
  return `it had run ${(r.ranMs / 1000).toFixed(1)} s; restarted after a ${r.backoffMs} ms back-off, and it answers again`;
}

/**
 * One agent child process, supervised like a systemd service with `Restart=always`: if it
 * dies while it should run, it is started again after a back-off (100 ms doubling to 5 s,
 * reset once a run lasted 10 s), and `onRestart` is told once it answers. Its output is
 * appended to `logPath`; it starts with no key in its environment (it reads its key file)
 * and is SIGKILLed if SIGTERM doesn't end it within 5 s. `prefix` runs it through another
 * command, e.g. `ip netns exec NS`, which execs in place so the child's pid stays the agent's.
 *
 * It runs in its own process group, so a Ctrl-C at the terminal reaches `pgvigil up` only,
 * which stops the agents in order. Its pid is kept in `agent.pid` next to its config: an
 * agent a previous run left behind (its `up` was killed) is stopped before a new one starts.
 */
export function agentProcess(o: {
  url: string;
  configPath: string;
  logPath: string;
  agentScript: string;
  prefix?: string[];
  restart?: RestartPolicy;
  onRestart?: (restart: AgentRestart) => void;
}): AgentProcess {
  const policy = o.restart ?? RESTART_POLICY;
  const pidPath = join(dirname(o.configPath), 'agent.pid');
  let child: ChildProcess | null = null;
  /** Set by start, cleared by stop: whether a death is the supervisor's to repair. */
  let wanted = false;
  let restarts = 0;
  let delayMs = policy.firstDelayMs;
  let pendingRestart: NodeJS.Timeout | null = null;
  /** A restart's launch in flight: a stop meanwhile waits for it, then ends what it spawned. */
  let launching: Promise<ChildProcess> | null = null;
  const running = (p: ChildProcess | null): p is ChildProcess => p !== null && p.exitCode === null && p.signalCode === null;

  const launch = async (): Promise<ChildProcess> => {
    await stopLeftAgent(pidPath, o.configPath);
    const log = createWriteStream(o.logPath, { flags: 'a' });
    await new Promise<void>((r) => log.once('open', () => r()));
    const [cmd, ...args] = [...(o.prefix ?? []), process.execPath, o.agentScript, '--config', o.configPath];
    const proc = spawn(cmd!, args, {
      stdio: ['ignore', log, log],
      detached: true,
      env: { ...process.env, PGVIGIL_AGENT_KEY: '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    const startedAt = Date.now();
    proc.once('exit', (code, signal) => {
      log.end();
      if (wanted && child === proc) scheduleRestart(code, signal, Date.now() - startedAt);
    });
    child = proc;
    if (proc.pid !== undefined) await writeFile(pidPath, `${proc.pid}\n`);
    return proc;
  };

  const scheduleRestart = (exitCode: number | null, signal: NodeJS.Signals | null, ranMs: number) => {
    if (ranMs >= policy.resetAfterMs) delayMs = policy.firstDelayMs;
    const backoffMs = delayMs;
    delayMs = Math.min(policy.maxDelayMs, delayMs * 2);
    pendingRestart = setTimeout(() => {
      pendingRestart = null;
      if (!wanted) return;
      restarts += 1;
      const restart: AgentRestart = { exitCode, signal, restarts, ranMs, backoffMs };
      const launched = launch();
      launching = launched;
      void launched
        .finally(() => {
          if (launching === launched) launching = null;
        })
        .then(async (proc) => {
          // Stopped while it launched: that stop ends this process (it waited for the launch).
          if (!wanted) return;
          try {
            await waitListening(o.url, proc, o.logPath);
          } catch {
            // Not answering: end it, and its exit schedules the next attempt with a longer back-off.
            if (running(proc)) proc.kill('SIGKILL');
            return;
          }
          if (wanted && child === proc) o.onRestart?.(restart);
        })
        .catch(() => {
          // It could not even be spawned: try again later, as systemd would.
          if (wanted) scheduleRestart(exitCode, signal, 0);
        });
    }, backoffMs);
  };

  return {
    pid: () => child?.pid ?? null,
    async start() {
      wanted = true;
      if (running(child)) return;
      if (pendingRestart !== null) clearTimeout(pendingRestart);
      pendingRestart = null;
      const proc = await launch();
      try {
        await waitListening(o.url, proc, o.logPath);
      } catch (e) {
        // A start that fails is the caller's to handle, not the supervisor's to repeat.
        wanted = false;
        if (pendingRestart !== null) clearTimeout(pendingRestart);
        pendingRestart = null;
        if (running(proc)) proc.kill('SIGKILL');
        throw e;
      }
    },
    async stop(opts = {}) {
      wanted = false;
      if (pendingRestart !== null) clearTimeout(pendingRestart);
      pendingRestart = null;
      // A restart spawning now would otherwise leave an agent running after this stop returned.
      if (launching !== null) await launching.catch(() => undefined);
      const proc = child;
      if (!running(proc)) return;
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
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`agent at ${url} exited (${proc.signalCode ?? `code ${proc.exitCode}`}): see ${logPath}`);
    try {
      await fetch(`${url}/v1/actions/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(500) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`agent at ${url} did not start listening within 20 s: see ${logPath}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
