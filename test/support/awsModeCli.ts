import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CliResult } from './cliRun.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));

export interface AwsTarget {
  table: string;
  region: string;
  cluster: string;
  decideFunction: string;
  /** Where the SDK's DynamoDB and Lambda clients are pointed off AWS (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_LAMBDA). */
  dynamodbEndpoint: string;
  lambdaEndpoint: string;
}

/**
 * `pgvigil <args> --table … --region … --cluster … --decide-function …` in its own process, as
 * an operator runs it against a deployed stack: reads from the table, operator commands by
 * invoking decide. Only the SDK's standard endpoint variables send it here instead of to AWS.
 */
export function runAwsCli(args: readonly string[], t: AwsTarget): Promise<CliResult> {
  const argv = ['--import', 'tsx', 'lib/cli/main.ts', ...args, '--table', t.table, '--region', t.region, '--cluster', t.cluster, '--decide-function', t.decideFunction];
  const env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/root',
    AWS_ENDPOINT_URL_DYNAMODB: t.dynamodbEndpoint,
    AWS_ENDPOINT_URL_LAMBDA: t.lambdaEndpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
