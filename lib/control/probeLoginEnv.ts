import { readFile } from 'node:fs/promises';
import { getSecretString } from '../host/awsSecrets.ts';
import { MONITOR_USER } from '../host/roles.ts';
import { readSecret } from '../host/secretFiles.ts';
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
    ? await required(getSecretString(env.PGVIGIL_MONITOR_SECRET_ARN, env.AWS_REGION), `the monitoring password secret ${env.PGVIGIL_MONITOR_SECRET_ARN} holds no string value`)
    : env.PGVIGIL_MONITOR_PASSWORD_FILE
      ? await required(readSecret(env.PGVIGIL_MONITOR_PASSWORD_FILE), `no monitoring password in ${env.PGVIGIL_MONITOR_PASSWORD_FILE}`)
      : undefined;
  if (password === undefined) return undefined;
  const ca = env.PGVIGIL_CA_CERT_FILE ? await readFile(env.PGVIGIL_CA_CERT_FILE, 'utf8') : undefined;
  return { user: MONITOR_USER, password, ssl: ca ? { mode: 'verify-ca', ca } : { mode: 'require' } };
}

async function required(value: Promise<string | null>, missing: string): Promise<string> {
  const v = await value;
  if (v === null) throw new Error(missing);
  return v.trim();
}
