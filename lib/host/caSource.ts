import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { ensureCa, type ClusterCa } from './clusterTls.ts';
import { writeSecretFile } from './secretFiles.ts';
import type { BootstrapConfig } from './bootstrapConfig.ts';

const CaSecret = z.object({ cert: z.string().includes('BEGIN CERTIFICATE'), key: z.string().includes('PRIVATE KEY') });

/** Where the CA's text is kept on AWS, and how to read and put it: an SSM parameter or (hosts set up before) a Secrets Manager secret. */
interface RemoteStore {
  what: string;
  get(name: string): Promise<string | null>;
  put(name: string, value: string): Promise<void>;
  close(): void;
}

type RemoteCa = Exclude<BootstrapConfig['ca'], { dir: string }>;

/**
 * The cluster CA this host issues its certificate from. From a directory: made there by whoever
 * comes first. From an SSM parameter (hosts on AWS; a Secrets Manager secret on hosts set up
 * before): the first peer makes it and puts it in the parameter the stack created; the others
 * wait until it is there. Only the first peer makes or puts one, so two hosts never each put their
 * own. `ssm`: the client for parameters (tests cut it at the wire); `pollMs`: how often a waiting
 * host looks again.
 */
export async function resolveCa(o: { ca: BootstrapConfig['ca']; cluster: string; hostDir: string; first: boolean; waitMs: number; ssm?: SSMClient; pollMs?: number }): Promise<ClusterCa> {
  if ('dir' in o.ca) return ensureCa(o.ca.dir, o.cluster);
  const store = await storeOf(o.ca, o.ssm);
  try {
    const ca = await caFromStore({ ...o, ca: o.ca, store });
    const certName = 'parameter' in o.ca ? o.ca.certParameter : o.ca.certSecretId;
    if (certName) await publishCaCert(store, certName, ca);
    return ca;
  } finally {
    store.close();
  }
}

async function storeOf(ca: RemoteCa, given?: SSMClient): Promise<RemoteStore> {
  if ('parameter' in ca) {
    const { getSecureParameter, putSecureParameter, ssmClient } = await import('./awsParameters.ts');
    const ssm = given ?? ssmClient(ca.region);
    return { what: 'SSM parameter', get: (n) => getSecureParameter(ssm, n), put: (n, v) => putSecureParameter(ssm, n, v, ca.keyId), close: () => void (given ? undefined : ssm.destroy()) };
  }
  const { getSecretString, putSecretString } = await import('./awsSecrets.ts');
  return { what: 'secret', get: (n) => getSecretString(n, ca.region), put: (n, v) => putSecretString(n, v, ca.region), close: () => {} };
}

/**
 * The probe's copy of the CA certificate, put by whichever host finds it missing or different
 * (every host holds the same CA), at every run: a first boot that died between the two puts is
 * mended by the next boot of any host, and an existing cluster gains it at its next boot.
 */
async function publishCaCert(store: RemoteStore, name: string, ca: ClusterCa): Promise<void> {
  const cert = (await readFile(ca.cert, 'utf8')).trim();
  if ((await store.get(name))?.trim() === cert) return;
  await store.put(name, cert);
}

async function caFromStore(o: { ca: RemoteCa; store: RemoteStore; cluster: string; hostDir: string; first: boolean; waitMs: number; pollMs?: number }): Promise<ClusterCa> {
  const name = 'parameter' in o.ca ? o.ca.parameter : o.ca.secretId;
  const dir = join(o.hostDir, 'cluster-ca');
  const local: ClusterCa = { cert: join(dir, 'ca', 'ca.crt'), key: join(dir, 'ca', 'ca.key') };
  const caText = async (ca: ClusterCa) => JSON.stringify({ cert: await readFile(ca.cert, 'utf8'), key: await readFile(ca.key, 'utf8') });
  if (existsSync(local.cert) && existsSync(local.key)) {
    // A first host whose store holds no CA (the stack moved it from a secret to a parameter, made
    // anew with a placeholder) puts the one it holds, so a host set up later joins the same CA.
    if ('parameter' in o.ca && o.first && !parseCa(await o.store.get(name))) await o.store.put(name, await caText(local));
    return local;
  }
  const deadline = Date.now() + o.waitMs;
  for (;;) {
    const held = parseCa(await o.store.get(name));
    if (held) {
      await writeSecretFile(local.key, held.key);
      await writeSecretFile(local.cert, held.cert);
      return local;
    }
    if (o.first) {
      const made = await ensureCa(dir, o.cluster);
      await o.store.put(name, await caText(made));
      return made;
    }
    if (Date.now() > deadline) throw new Error(`${o.store.what} ${name} holds no cluster CA yet: bootstrap the first node (${o.cluster}'s first peer) first`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 5_000));
  }
}

function parseCa(text: string | null): z.infer<typeof CaSecret> | null {
  if (!text) return null;
  try {
    const r = CaSecret.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}
