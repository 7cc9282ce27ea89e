import { readFile } from 'node:fs/promises';
import { getSecretString } from '../host/awsSecrets.ts';
import { MONITOR_USER } from '../host/roles.ts';
import { readSecret } from '../host/secretFiles.ts';
import type { Log } from '../log.ts';
import type { ProbeLogin, ProbeTls } from '../probe/probeLogin.ts';
import type { LambdaEnv } from './lambdaEnv.ts';

/**
 * The probe function's login to the nodes (issue 14 item 2): pgvigil_monitor with the password
 * the stack generated into Secrets Manager (or a file, for runs of the handler off AWS), over
 * TLS: verify-full when given the cluster CA's certificate (a file, or the certificate secret the
 * first host's bootstrap fills), else require. Without a password, the superuser without TLS
 * (deployments from before the host bootstrap). Never logged.
 */
export async function probeLoginFromEnv(env: LambdaEnv, log: Log = () => {}): Promise<ProbeLogin | undefined> {
  const password = env.PGVIGIL_MONITOR_SECRET_ARN
    ? await required(getSecretString(env.PGVIGIL_MONITOR_SECRET_ARN, env.AWS_REGION), `the monitoring password secret ${env.PGVIGIL_MONITOR_SECRET_ARN} holds no string value`)
    : env.PGVIGIL_MONITOR_PASSWORD_FILE
      ? await required(readSecret(env.PGVIGIL_MONITOR_PASSWORD_FILE), `no monitoring password in ${env.PGVIGIL_MONITOR_PASSWORD_FILE}`)
      : undefined;
  if (password === undefined) return undefined;
  return { user: MONITOR_USER, password, ssl: await probeTls(env, log) };
}

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

async function probeTls(env: LambdaEnv, log: Log): Promise<ProbeTls> {
  if (env.PGVIGIL_CA_CERT_FILE) {
    const text = await readFile(env.PGVIGIL_CA_CERT_FILE, 'utf8');
    const pem = PEM.exec(text)?.[0];
    if (!pem) throw new Error(`${env.PGVIGIL_CA_CERT_FILE} holds no PEM certificate: give the cluster CA's ca.crt`);
    return { mode: 'verify-full', ca: pem };
  }
  if (env.PGVIGIL_CA_CERT_SECRET_ARN) {
    const pem = PEM.exec((await getSecretString(env.PGVIGIL_CA_CERT_SECRET_ARN, env.AWS_REGION)) ?? '')?.[0];
    if (pem) return { mode: 'verify-full', ca: pem };
    // Until a host has bootstrapped the secret holds the stack's placeholder. Refusing to probe
    // would leave a running cluster (one deployed before this secret existed) with no probe at
    // all, so no failover; encrypted and unverified, as before, is the lesser harm, and said.
    log({ level: 'warn', msg: 'no cluster CA certificate in its secret yet: probing with sslmode=require (encrypted, server not verified) until a host bootstrap puts it there', secret: env.PGVIGIL_CA_CERT_SECRET_ARN });
  }
  return { mode: 'require' };
}

async function required(value: Promise<string | null>, missing: string): Promise<string> {
  const v = await value;
  if (v === null) throw new Error(missing);
  return v.trim();
}
