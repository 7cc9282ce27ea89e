import { existsSync, readFileSync } from 'node:fs';
import { parseAgentConfig } from '../../lib/agent/agentConfig.ts';
import { startAgent, type RunningAgent } from '../../lib/agent/startAgent.ts';
import { loadAgentKeyRing } from '../../lib/agent/agentKeyRing.ts';
import type { OsUser } from '../../lib/postgres/osUser.ts';
import { collectingLog, jsonLog, type LogEntry } from '../../lib/log.ts';
import { localHostFiles } from '../../lib/local/localHostFiles.ts';
import { testAgentConfig, type TestAgentNode } from './testAgentConfig.ts';

/** The HMAC key of the agents under test that are given no keyFile. */
export const TEST_KEY = Buffer.from('pgvigil-test-agent-key-0123456789abcdef', 'utf8');

export interface TestAgent extends RunningAgent {
  lines: LogEntry[];
  /** The cluster CA the agent's certificate chains to (its target carries it too); absent without host files. */
  ca?: string;
}

/**
 * One in-process agent for a local node; logs are collected (and echoed when PGVIGIL_TEST_LOG is
 * set). It accepts TEST_KEY, or with `extra.keyFile` that file's keys, read again on a mismatch
 * as the agent program does (lib/agent/agentKeyRing.ts).
 */
export async function startTestAgent(o: TestAgentNode & { osUser: OsUser | null }): Promise<TestAgent> {
  // A cluster made by createLocalCluster in this work dir has its certificate there: the agent
  // serves HTTPS with it, and the target carries the CA to check it by.
  const host = localHostFiles(o.workDir);
  const tls = existsSync(host.serverCert) ? { certFile: host.serverCert, keyFile: host.serverKey } : undefined;
  const parsed = parseAgentConfig(testAgentConfig(o, tls ? { tls } : {}));
  if (!parsed.ok) throw new Error(parsed.reason);
  const lines: LogEntry[] = [];
  const forward = process.env['PGVIGIL_TEST_LOG'] ? jsonLog('agent', { node: o.node.name }) : undefined;
  const log = collectingLog(lines, forward);
  let key: Parameters<typeof startAgent>[1]['key'] = TEST_KEY;
  if (parsed.value.keyFile !== undefined) {
    const ring = await loadAgentKeyRing(parsed.value, log);
    if (!ring.ok) throw new Error(ring.reason);
    key = ring.value;
  }
  const agent = await startAgent(parsed.value, { key, osUser: o.osUser, log });
  const ca = tls ? readFileSync(host.caCert, 'utf8') : undefined;
  return { ...agent, target: { ...agent.target, ...(ca !== undefined ? { ca } : {}) }, ...(ca !== undefined ? { ca } : {}), lines };
}
