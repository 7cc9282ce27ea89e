import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentConfigInput } from '../../lib/agent/agentConfig.ts';
import type { VipConfig } from '../../lib/endpoints/vip/vipConfig.ts';
import type { StoreConfig } from '../../lib/store/storeConfig.ts';
import type { NsNode } from './netnsHosts.ts';
import { PG_PORT } from './netnsHosts.ts';

export const AGENT_PORT = 8008;

export interface NsAgent {
  url: string;
  logPath: string;
  pid(): number | null;
  start(): Promise<void>;
  /** SIGTERM and wait; SIGKILL when `kill` is set, as a crash would. */
  stop(opts?: { kill?: boolean }): Promise<void>;
}

export interface NsAgentOptions {
  cluster: string;
  node: NsNode;
  workDir: string;
  bindir: string;
  osUser: string;
  keyFile: string;
  store: StoreConfig;
  lease: { ttlMs: number; renewEveryMs: number };
  vip: VipConfig;
  /** The bundled agent (lib/local/agentBundle.ts), as it ships to a host. */
  agentScript: string;
}

/**
 * The agent of one lab host, run inside the host's namespace (`ip netns exec NS node …`) as a
 * systemd service would run it: as root, so it can move the VIP, with PostgreSQL tools run as
 * the OS user. It listens on the host's address, where the control plane reaches it.
 */
export async function prepareNsAgent(o: NsAgentOptions): Promise<NsAgent> {
  const dir = join(o.workDir, 'agents', o.node.name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const config: AgentConfigInput = {
    cluster: o.cluster,
    node: o.node.name,
    listen: { host: o.node.host.address, port: AGENT_PORT },
    dataDir: o.node.dataDir,
    bindir: o.bindir,
    pgPort: PG_PORT,
    pgHost: o.node.host.address,
    osUser: o.osUser,
    keyFile: o.keyFile,
    stateDir: dir,
    store: o.store,
    lease: o.lease,
    vip: o.vip,
  };
  const configPath = join(dir, 'agent.json');
  await writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  const url = `http://${o.node.host.address}:${AGENT_PORT}`;
  const logPath = join(dir, 'agent.log');
  let child: ChildProcess | null = null;

  return {
    url,
    logPath,
    pid: () => child?.pid ?? null,
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) return;
      const log = createWriteStream(logPath, { flags: 'a' });
      await new Promise<void>((r) => log.once('open', () => r()));
      // `ip netns exec` execs the command in place: the child's pid is the agent's.
      const proc = spawn('ip', ['netns', 'exec', o.node.host.ns, process.execPath, o.agentScript, '--config', configPath], {
        stdio: ['ignore', log, log],
        env: { ...process.env, PGVIGIL_AGENT_KEY: '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      });
      child = proc;
      await waitListening(url, proc, logPath);
    },
    async stop(opts = {}) {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill(opts.kill ? 'SIGKILL' : 'SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
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
