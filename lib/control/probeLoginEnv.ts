import { readFile } from 'node:fs/promises';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MONITOR_USER } from '../host/roles.ts';
import type { ProbeLogin } from '../probe/probeLogin.ts';
import type { LambdaEnv } from './lambdaEnv.ts';

/**
 * The probe function's login to the nodes (issue 14 item 2): pgvigil_monitor with the password
 * the stack generated into Secrets Manager (or a file, for runs of the handler off AWS), over
 * TLS: verify-ca when given the cluster CA's certificate, else require. Without either setting,
 * the superuser without TLS (deployments from before the host bootstrap). Never logged.
 */
export async function probeLoginFromEnv(env: LambdaEnv): Promise<ProbeLogin | undefined> {
  const password = env.PGVIGIL_MONITOR_SECRET_ARN
    ? await secretString(env.PGVIGIL_MONITOR_SECRET_ARN, env.AWS_REGION)
    : env.PGVIGIL_MONITOR_PASSWORD_FILE
      ? (await readFile(env.PGVIGIL_MONITOR_PASSWORD_FILE, 'utf8')).trim()
      : undefined;
  if (password === undefined) return undefined;
  const ca = env.PGVIGIL_CA_CERT_FILE ? await readFile(env.PGVIGIL_CA_CERT_FILE, 'utf8') : undefined;
  return { user: MONITOR_USER, password, ssl: ca ? { mode: 'verify-ca', ca } : { mode: 'require' } };
}

async function secretString(arn: string, region: string): Promise<string> {
  const sm = new SecretsManagerClient({ region });
  try {
    const out = await sm.send(new GetSecretValueCommand({ SecretId: arn }));
    if (!out.SecretString) throw new Error(`the monitoring password secret ${arn} holds no string value`);
    return out.SecretString.trim();
  } finally {
    sm.destroy();
  }
}
