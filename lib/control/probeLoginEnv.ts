import { readFile } from 'node:fs/promises';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { getSecretString } from '../host/awsSecrets.ts';
import { getSecureParameter, ssmClient } from '../host/awsParameters.ts';
import { MONITOR_USER } from '../host/roles.ts';
import { readSecret } from '../host/secretFiles.ts';
import type { Log } from '../log.ts';
import type { ProbeLogin, ProbeTls } from '../probe/probeLogin.ts';
import type { LambdaEnv } from './lambdaEnv.ts';

/**
 * The probe function's login to the nodes (issue 14 item 2): pgvigil_monitor with the password
 * the stack generated into an SSM SecureString parameter (a Secrets Manager secret for functions
 * deployed before; a file, for runs of the handler off AWS), over TLS: verify-full when given the
 * cluster CA's certificate (a file, or the certificate parameter the hosts' bootstrap fills),
 * else require. Without a password, the superuser without TLS (deployments from before the host
 * bootstrap). Never logged. `ssm`: the client for parameters (tests cut it at the wire); by
 * default one in the Lambda's region.
 */
export async function probeLoginFromEnv(env: LambdaEnv, log: Log = () => {}, o: { ssm?: SSMClient } = {}): Promise<ProbeLogin | undefined> {
  let ssm = o.ssm;
  const parameter = (name: string) => getSecureParameter((ssm ??= ssmClient(env.AWS_REGION)), name);
  const password = env.PGVIGIL_MONITOR_PARAMETER
    ? await required(parameter(env.PGVIGIL_MONITOR_PARAMETER), `the monitoring password parameter ${env.PGVIGIL_MONITOR_PARAMETER} does not exist: check the stack created it, and the region`)
    : env.PGVIGIL_MONITOR_SECRET_ARN
      ? await required(getSecretString(env.PGVIGIL_MONITOR_SECRET_ARN, env.AWS_REGION), `the monitoring password secret ${env.PGVIGIL_MONITOR_SECRET_ARN} holds no string value`)
      : env.PGVIGIL_MONITOR_PASSWORD_FILE
        ? await required(readSecret(env.PGVIGIL_MONITOR_PASSWORD_FILE), `no monitoring password in ${env.PGVIGIL_MONITOR_PASSWORD_FILE}`)
        : undefined;
  if (password === undefined) return undefined;
  return { user: MONITOR_USER, password, ssl: await probeTls(env, log, parameter) };
}

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

async function probeTls(env: LambdaEnv, log: Log, parameter: (name: string) => Promise<string | null>): Promise<ProbeTls> {
  if (env.PGVIGIL_CA_CERT_FILE) {
    const text = await readFile(env.PGVIGIL_CA_CERT_FILE, 'utf8');
    const pem = PEM.exec(text)?.[0];
    if (!pem) throw new Error(`${env.PGVIGIL_CA_CERT_FILE} holds no PEM certificate: give the cluster CA's ca.crt`);
    return { mode: 'verify-full', ca: pem };
  }
  const source = env.PGVIGIL_CA_CERT_PARAMETER
    ? { text: () => parameter(env.PGVIGIL_CA_CERT_PARAMETER!), where: { parameter: env.PGVIGIL_CA_CERT_PARAMETER } }
    : env.PGVIGIL_CA_CERT_SECRET_ARN
      ? { text: () => getSecretString(env.PGVIGIL_CA_CERT_SECRET_ARN!, env.AWS_REGION), where: { secret: env.PGVIGIL_CA_CERT_SECRET_ARN } }
      : undefined;
  if (source) {
    const pem = PEM.exec((await source.text()) ?? '')?.[0];
    if (pem) return { mode: 'verify-full', ca: pem };
    // Until a host has bootstrapped, the parameter holds the stack's placeholder. Refusing to probe
    // would leave a running cluster (one deployed before the certificate was published) with no
    // probe at all, so no failover; encrypted and unverified, as before, is the lesser harm, and said.
    log({ level: 'warn', msg: 'no cluster CA certificate published yet: probing with sslmode=require (encrypted, server not verified) until a host bootstrap puts it there', ...source.where });
  }
  return { mode: 'require' };
}

async function required(value: Promise<string | null>, missing: string): Promise<string> {
  const v = await value;
  if (v === null) throw new Error(missing);
  return v.trim();
}
