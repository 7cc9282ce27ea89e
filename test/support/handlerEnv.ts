import { existsSync } from 'node:fs';
import { agentKeysDir } from '../../lib/local/localAgentKeys.ts';
import { localHostFiles } from '../../lib/local/localHostFiles.ts';
import type { TestPipeline } from './pipelineKit.ts';

const KEYS = ['PGVIGIL_TABLE', 'PGVIGIL_CLUSTERS', 'PGVIGIL_STORE_ENDPOINT', 'PGVIGIL_AGENT_KEY', 'PGVIGIL_AGENT_KEY_DIR', 'PGVIGIL_CA_CERT_FILE', 'PGVIGIL_TOPIC_ARN', 'AWS_REGION'] as const;

/**
 * The environment a Lambda handler reads, pointing at a local pipeline's store, spec, per-node
 * agent keys and cluster CA, as the stack sets it on AWS. `topicArn` null leaves no topic (failures are only logged).
 * Answers the function that puts the process environment back.
 */
export async function useHandlerEnv(p: TestPipeline, o: { region: string; topicArn: string | null }): Promise<() => void> {
  const saved = Object.fromEntries(KEYS.map((k) => [k, process.env[k]]));
  delete process.env['PGVIGIL_TOPIC_ARN'];
  delete process.env['PGVIGIL_AGENT_KEY'];
  const ca = localHostFiles(p.workDir).caCert;
  Object.assign(process.env, {
    PGVIGIL_TABLE: p.storeConfig.table,
    PGVIGIL_CLUSTERS: JSON.stringify([p.spec]),
    PGVIGIL_STORE_ENDPOINT: p.storeConfig.endpoint!,
    PGVIGIL_AGENT_KEY_DIR: agentKeysDir(p.workDir),
    ...(existsSync(ca) ? { PGVIGIL_CA_CERT_FILE: ca } : {}),
    AWS_REGION: o.region,
    ...(o.topicArn !== null ? { PGVIGIL_TOPIC_ARN: o.topicArn } : {}),
  });
  return () => {
    for (const k of KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  };
}
