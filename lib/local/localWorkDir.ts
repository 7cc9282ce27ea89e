import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseStoreConfig, type StoreConfig } from '../store/storeConfig.ts';

/** What a running `pgvigil up` leaves in its work dir for other commands: the store's address and the agents' key. */
export interface LocalWorkDir {
  workDir: string;
  storeConfig: StoreConfig;
  keyFile: string;
  /** The agents' HMAC key. Never logged. */
  agentKey: Buffer;
}

export function readLocalWorkDir(dir: string): { ok: true; value: LocalWorkDir } | { ok: false; reason: string } {
  const workDir = resolve(dir);
  const storeFile = join(workDir, 'store.json');
  const keyFile = join(workDir, 'agent.key');
  const start = `start the cluster with \`pgvigil up --workdir ${dir}\` (or pass the --workdir of the running one)`;
  if (!existsSync(storeFile) || !existsSync(keyFile)) return { ok: false, reason: `no local cluster in ${workDir} (store.json or agent.key missing): ${start}` };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(storeFile, 'utf8'));
  } catch (e) {
    return { ok: false, reason: `${storeFile} is not JSON (${(e as Error).message}): remove it and ${start}` };
  }
  const storeConfig = parseStoreConfig(raw);
  if (!storeConfig.ok) return { ok: false, reason: storeConfig.reason };
  const agentKey = Buffer.from(readFileSync(keyFile, 'utf8').trim());
  return { ok: true, value: { workDir, storeConfig: storeConfig.value, keyFile, agentKey } };
}
