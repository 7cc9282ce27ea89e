import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeSpec } from '../domain/spec.ts';
import { prepareLocalAgent, type LocalAgent, type LocalAgentOptions } from './agentProcesses.ts';
import { openLocalCluster } from './localCluster.ts';
import type { OsUser } from '../postgres/osUser.ts';

export interface GrownNode {
  name: string;
  agent: LocalAgent;
  /** Stops its agent, then its server. */
  stop(): Promise<void>;
}

export interface AdoptOptions {
  workDir: string;
  node: NodeSpec;
  /** The log's primary: a grown node is started only as that primary or as a standby. */
  primary: string | null;
  osUser: OsUser | null;
  agent: Omit<LocalAgentOptions, 'node' | 'port' | 'workDir'>;
  /** Told of its server when a previous run left it running (openLocalCluster). */
  onLeftRunning?: (note: string) => void;
}

/**
 * A node added by `pgvigil grow` lives in the work dir like the first ones: the running
 * `pgvigil up` takes charge of it (starts its server if it is a standby or the log's
 * primary, and its agent) so that stopping `up` stops it too, and a restart resumes it.
 * Nodes whose data dir is elsewhere (registered with `pgvigil add-node`) are not ours: null.
 */
export async function adoptGrownNode(o: AdoptOptions): Promise<GrownNode | null> {
  if (!existsSync(join(o.workDir, o.node.name, 'PG_VERSION'))) return null;
  // One-node view of the data dir: opening starts it when it is a standby or the primary.
  const server = await openLocalCluster({ workDir: o.workDir, basePort: o.node.port, names: [o.node.name], osUser: o.osUser, primary: o.primary, ...(o.onLeftRunning ? { onLeftRunning: o.onLeftRunning } : {}) });
  const agent = await prepareLocalAgent({ ...o.agent, workDir: o.workDir, node: server.nodes[0]!, port: Number(new URL(o.node.agent).port) });
  try {
    await agent.start();
  } catch (e) {
    await server.stopAll();
    throw e;
  }
  return {
    name: o.node.name,
    agent,
    async stop() {
      await agent.stop();
      await server.stopAll();
    },
  };
}
