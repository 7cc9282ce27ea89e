import { readFile } from 'node:fs/promises';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { SigningKey } from '../agent/agentClient.ts';
import type { SignedTarget } from '../agent/signing.ts';
import { getSecretString } from '../host/awsSecrets.ts';
import { getSecureParameter, ssmClient } from '../host/awsParameters.ts';
import { keyDirSigningKey } from '../agent/keyDir.ts';
import type { LambdaEnv } from './lambdaEnv.ts';

/**
 * How long a Lambda container keeps a node's key before reading its parameter again. A rotation
 * (README: rotating the agent keys) is followed within this; meanwhile the parameter's second
 * line is the old key, which the agents still accept. So the old line must stay at least this
 * long, or a container could sign with a key the agent no longer holds.
 */
export const KEY_CACHE_MS = 5 * 60_000;

/** The SSM parameter holding one node's agent key: the stack names them `<prefix><cluster>/<node>` (cdk/agentKeys.ts). */
export const agentKeyParameterName = (prefix: string, t: SignedTarget): string => `${prefix}${t.cluster}/${t.node}`;

/**
 * What the handlers sign with. On AWS each node's own SecureString parameter, its first line.
 * Runs off AWS: PGVIGIL_AGENT_KEY_DIR (local mode's per-node key files), or PGVIGIL_AGENT_KEY, one
 * key for every agent (a lab whose agents share one). Never logged. `ssm`: the client to read the
 * parameters with (tests cut it at the wire); by default one per source, in the Lambda's region.
 */
export function agentKeySource(env: LambdaEnv, clock: () => number = Date.now, o: { ssm?: SSMClient } = {}): SigningKey {
  const shared = process.env['PGVIGIL_AGENT_KEY'];
  if (shared) return Buffer.from(shared.trim().split('\n')[0]!.trim());
  if (env.PGVIGIL_AGENT_KEY_DIR) return keyDirSigningKey(env.PGVIGIL_AGENT_KEY_DIR);
  const prefix = env.PGVIGIL_AGENT_KEY_PARAMETER_PREFIX;
  if (!prefix) throw new Error("set PGVIGIL_AGENT_KEY_PARAMETER_PREFIX (each node's key in an SSM parameter of its own), or PGVIGIL_AGENT_KEY_DIR for a local run");
  let ssm = o.ssm;
  const cache = new Map<string, { key: Buffer; at: number }>();
  return async (t) => {
    const name = agentKeyParameterName(prefix, t);
    const held = cache.get(name);
    if (held && clock() - held.at < KEY_CACHE_MS) return held.key;
    ssm ??= ssmClient(env.AWS_REGION);
    const value = await getSecureParameter(ssm, name);
    if (!value?.trim()) throw new Error(`SSM parameter ${name} holds no key: the stack creates one per node of the cluster specs`);
    // The first line signs; a second (during a rotation) is the previous key, which only the agent still accepts.
    const key = Buffer.from(value.trim().split('\n')[0]!.trim());
    cache.set(name, { key, at: clock() });
    return key;
  };
}

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/**
 * The cluster CA's certificate the agents' HTTPS certificates chain to: a file (runs off AWS), or
 * the certificate parameter the hosts' bootstrap fills (a Secrets Manager secret for functions
 * deployed before; the CA key is never read here). `pending`: it holds no certificate yet (no host
 * has bootstrapped); calls to https agents then fail rather than trust anyone, and the caller
 * should ask again later. `ssm`: the client for the parameter (tests cut it at the wire).
 */
export async function agentCaOf(env: LambdaEnv, o: { ssm?: SSMClient } = {}): Promise<{ ca?: string; pending: boolean }> {
  if (env.PGVIGIL_CA_CERT_FILE) {
    const pem = PEM.exec(await readFile(env.PGVIGIL_CA_CERT_FILE, 'utf8'))?.[0];
    if (!pem) throw new Error(`${env.PGVIGIL_CA_CERT_FILE} holds no PEM certificate: give the cluster CA's ca.crt`);
    return { ca: pem, pending: false };
  }
  const text = env.PGVIGIL_CA_CERT_PARAMETER
    ? await getSecureParameter(o.ssm ?? ssmClient(env.AWS_REGION), env.PGVIGIL_CA_CERT_PARAMETER)
    : env.PGVIGIL_CA_CERT_SECRET_ARN
      ? await getSecretString(env.PGVIGIL_CA_CERT_SECRET_ARN, env.AWS_REGION)
      : undefined;
  if (text === undefined) return { pending: false };
  const pem = PEM.exec(text ?? '')?.[0];
  return pem ? { ca: pem, pending: false } : { pending: true };
}
