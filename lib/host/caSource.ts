import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ensureCa, type ClusterCa } from './clusterTls.ts';
import { writeSecretFile } from './secretFiles.ts';
import type { BootstrapConfig } from './bootstrapConfig.ts';

const CaSecret = z.object({ cert: z.string().includes('BEGIN CERTIFICATE'), key: z.string().includes('PRIVATE KEY') });

/**
 * The cluster CA this host issues its certificate from. From a directory: made there by whoever
 * comes first. From Secrets Manager (hosts on AWS): the first peer makes it and puts it in the
 * secret the stack created; the others wait until it is there. Only the first peer makes one,
 * so two hosts never each put their own.
 */
export async function resolveCa(o: { ca: BootstrapConfig['ca']; cluster: string; hostDir: string; first: boolean; waitMs: number }): Promise<ClusterCa> {
  if ('dir' in o.ca) return ensureCa(o.ca.dir, o.cluster);
  const ca = await caFromSecret({ ...o, ca: o.ca });
  if (o.ca.certSecretId) await publishCaCert(o.ca.certSecretId, ca, o.ca.region);
  return ca;
}

/**
 * The probe's copy of the CA certificate, put by whichever host finds it missing or different
 * (every host holds the same CA), at every run: a first boot that died between the two secrets
 * is mended by the next boot of any host, and an existing cluster gains it at its next boot.
 */
async function publishCaCert(secretId: string, ca: ClusterCa, region: string | undefined): Promise<void> {
  const { getSecretString, putSecretString } = await import('./awsSecrets.ts');
  const cert = (await readFile(ca.cert, 'utf8')).trim();
  if ((await getSecretString(secretId, region))?.trim() === cert) return;
  await putSecretString(secretId, cert, region);
}

async function caFromSecret(o: { ca: Extract<BootstrapConfig['ca'], { secretId: string }>; cluster: string; hostDir: string; first: boolean; waitMs: number }): Promise<ClusterCa> {
  const dir = join(o.hostDir, 'cluster-ca');
  const local: ClusterCa = { cert: join(dir, 'ca', 'ca.crt'), key: join(dir, 'ca', 'ca.key') };
  if (existsSync(local.cert) && existsSync(local.key)) return local;
  const { getSecretString, putSecretString } = await import('./awsSecrets.ts');
  const deadline = Date.now() + o.waitMs;
  for (;;) {
    const held = parseCa(await getSecretString(o.ca.secretId, o.ca.region));
    if (held) {
      await writeSecretFile(local.key, held.key);
      await writeSecretFile(local.cert, held.cert);
      return local;
    }
    if (o.first) {
      const made = await ensureCa(dir, o.cluster);
      await putSecretString(o.ca.secretId, JSON.stringify({ cert: await readFile(made.cert, 'utf8'), key: await readFile(made.key, 'utf8') }), o.ca.region);
      return made;
    }
    if (Date.now() > deadline) throw new Error(`secret ${o.ca.secretId} holds no cluster CA yet: bootstrap the first node (${o.cluster}'s first peer) first`);
    await new Promise((r) => setTimeout(r, 5_000));
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
