import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestPipeline } from './pipelineKit.ts';

const KEYS = ['PGVIGIL_TABLE', 'PGVIGIL_CLUSTERS', 'PGVIGIL_STORE_ENDPOINT', 'PGVIGIL_AGENT_KEY', 'PGVIGIL_TOPIC_ARN', 'AWS_REGION'] as const;

/**
 * The environment a Lambda handler reads, pointing at a local pipeline's store, spec and agent
 * key, as the stack sets it on AWS. `topicArn` null leaves no topic (failures are only logged).
 * Answers the function that puts the process environment back.
 */
export async function useHandlerEnv(p: TestPipeline, o: { region: string; topicArn: string | null }): Promise<() => void> {
  const saved = Object.fromEntries(KEYS.map((k) => [k, process.env[k]]));
  delete process.env['PGVIGIL_TOPIC_ARN'];
  Object.assign(process.env, {
    PGVIGIL_TABLE: p.storeConfig.table,
    PGVIGIL_CLUSTERS: JSON.stringify([p.spec]),
    PGVIGIL_STORE_ENDPOINT: p.storeConfig.endpoint!,
    PGVIGIL_AGENT_KEY: (await readFile(join(p.workDir, 'agent.key'), 'utf8')).trim(),
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
