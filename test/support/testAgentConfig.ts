import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfigInput } from '../../lib/agent/agentConfig.ts';
import { replicationAuthOf } from '../../lib/host/hostFiles.ts';
import { localHostFiles } from '../../lib/local/localHostFiles.ts';

/** A node of a createLocalCluster work dir, as a test agent is started for it. */
export interface TestAgentNode {
  cluster: string;
  node: { name: string; port: number; dataDir: string };
  bindir: string;
  agentPort: number;
  workDir: string;
  extra?: Partial<AgentConfigInput>;
}

/**
 * The config every test agent starts from, in process (agentHarness.ts) or as a process
 * (processAgent.ts), so a new agent setting is given in one place. With the work dir's host
 * files (the replication role's passfile) when the cluster has them, as local mode's agents
 * do: follow, rewind and clone log in with them. `own` is what one harness adds (its key file,
 * TLS, OS user); `extra` is the test's, last.
 */
export function testAgentConfig(o: TestAgentNode, own: Partial<AgentConfigInput> = {}): AgentConfigInput {
  const host = localHostFiles(o.workDir);
  return {
    ...(existsSync(host.passfile) ? { replicationAuth: replicationAuthOf(host) } : {}),
    cluster: o.cluster,
    node: o.node.name,
    listen: { host: '127.0.0.1', port: o.agentPort },
    dataDir: o.node.dataDir,
    bindir: o.bindir,
    pgPort: o.node.port,
    stateDir: join(o.workDir, `agent-${o.node.name}`),
    lease: { ttlMs: 3_000, renewEveryMs: 500 },
    ...own,
    ...o.extra,
  };
}
