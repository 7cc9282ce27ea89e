import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentProcess, localAgentConfig, type AgentProcess } from '../../lib/local/agentProcesses.ts';
import type { VipConfig } from '../../lib/endpoints/vip/vipConfig.ts';
import type { StoreConfig } from '../../lib/store/storeConfig.ts';
import type { NsNode } from './netnsHosts.ts';
import { PG_PORT } from './netnsHosts.ts';

export const AGENT_PORT = 8008;

export interface NsAgent extends AgentProcess {
  url: string;
  logPath: string;
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
  /** The writer VIP this agent moves; none: the agent places no address (clients use each node's own). */
  vip?: VipConfig;
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
  // A local node's agent config (no archive), but listening on the host's address and moving the VIP.
  const config = {
    ...localAgentConfig({
      ...o,
      node: { name: o.node.name, host: o.node.host.address, port: PG_PORT, dataDir: o.node.dataDir },
      port: AGENT_PORT,
      stateDir: dir,
    }),
    listen: { host: o.node.host.address, port: AGENT_PORT },
    ...(o.vip ? { vip: o.vip } : {}),
  };
  const configPath = join(dir, 'agent.json');
  await writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  const url = `http://${o.node.host.address}:${AGENT_PORT}`;
  const logPath = join(dir, 'agent.log');
  const proc = agentProcess({ url, configPath, logPath, agentScript: o.agentScript, prefix: ['ip', 'netns', 'exec', o.node.host.ns] });
  return { url, logPath, pid: proc.pid, start: proc.start, stop: proc.stop };
}
