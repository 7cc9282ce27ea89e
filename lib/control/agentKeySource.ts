import { readFile } from 'node:fs/promises';
import type { SigningKey } from '../agent/agentClient.ts';
import type { SignedTarget } from '../agent/signing.ts';
import { getSecretString } from '../host/awsSecrets.ts';
import { keyDirSigningKey } from '../agent/keyDir.ts';
import type { LambdaEnv } from './lambdaEnv.ts';

/**
 * How long a Lambda container keeps a node's key before reading its secret again. A rotation
 * (README: rotating the agent keys) is followed within this; meanwhile the old key is the
 * secret's AWSPREVIOUS, which the agents still accept. So rotations must be further apart than
 * this, or a container could sign with a key two rotations old.
 */
export const KEY_CACHE_MS = 5 * 60_000;

/** The secret holding one node's agent key: the stack names them `<prefix><cluster>/<node>` (cdk/agentKeys.ts). */
export const agentKeySecretName = (prefix: string, t: SignedTarget): string => `${prefix}${t.cluster}/${t.node}`;

/**
 * What the handlers sign with. On AWS each node's own secret, its AWSCURRENT value (first line).
 * Runs off AWS: PGVIGIL_AGENT_KEY_DIR (local mode's per-node key files), or PGVIGIL_AGENT_KEY, one
 * key for every agent (a lab whose agents share one). Never logged.
 */
export function agentKeySource(env: LambdaEnv, clock: () => number = Date.now): SigningKey {
  const shared = process.env['PGVIGIL_AGENT_KEY'];
  if (shared) return Buffer.from(shared.trim().split('\n')[0]!.trim());
  if (env.PGVIGIL_AGENT_KEY_DIR) return keyDirSigningKey(env.PGVIGIL_AGENT_KEY_DIR);
  const prefix = env.PGVIGIL_AGENT_KEY_SECRET_PREFIX;
  if (!prefix) throw new Error('set PGVIGIL_AGENT_KEY_SECRET_PREFIX (each node\'s key in a secret of its own), or PGVIGIL_AGENT_KEY_DIR for a local run');
  const cache = new Map<string, { key: Buffer; at: number }>();
  return async (t) => {
    const name = agentKeySecretName(prefix, t);
    const held = cache.get(name);
    if (held && clock() - held.at < KEY_CACHE_MS) return held.key;
    const secret = await getSecretString(name, env.AWS_REGION);
    if (!secret) throw new Error(`secret ${name} holds no value: the stack creates one per node of the cluster specs`);
    // The first line signs; a second (a rotation by hand) is the previous key, which only the agent still accepts.
    const key = Buffer.from(secret.trim().split('\n')[0]!.trim());
    cache.set(name, { key, at: clock() });
    return key;
  };
}

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/**
 * The cluster CA's certificate the agents' HTTPS certificates chain to: a file (runs off AWS), or
 * the certificate secret the hosts' bootstrap fills (the CA key is never read here). `pending`: the
 * secret holds no certificate yet (no host has bootstrapped); calls to https agents then fail
 * rather than trust anyone, and the caller should ask again later.
 */
export async function agentCaOf(env: LambdaEnv): Promise<{ ca?: string; pending: boolean }> {
  if (env.PGVIGIL_CA_CERT_FILE) {
    const pem = PEM.exec(await readFile(env.PGVIGIL_CA_CERT_FILE, 'utf8'))?.[0];
    if (!pem) throw new Error(`${env.PGVIGIL_CA_CERT_FILE} holds no PEM certificate: give the cluster CA's ca.crt`);
    return { ca: pem, pending: false };
  }
  if (env.PGVIGIL_CA_CERT_SECRET_ARN) {
    const pem = PEM.exec((await getSecretString(env.PGVIGIL_CA_CERT_SECRET_ARN, env.AWS_REGION)) ?? '')?.[0];
    return pem ? { ca: pem, pending: false } : { pending: true };
  }
  return { pending: false };
}
