import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SigningKey } from '../agent/agentClient.ts';
import { parseStoreConfig, type StoreConfig } from '../store/storeConfig.ts';
import { keyDirSigningKey } from '../agent/keyDir.ts';
import { agentKeysDir, localAgentCa } from './localAgentKeys.ts';

/** What a running `pgvigil up` leaves in its work dir for other commands: the store's address, the agents' keys and CA. */
export interface LocalWorkDir {
  workDir: string;
  storeConfig: StoreConfig;
  /** Signs for each node with its own key (localAgentKeys.ts). Never logged. */
  agentKey: SigningKey;
  /** The CA the agents' HTTPS certificates chain to. */
  agentCa?: string;
}

export function readLocalWorkDir(dir: string): { ok: true; value: LocalWorkDir } | { ok: false; reason: string } {
  const workDir = resolve(dir);
  const storeFile = join(workDir, 'store.json');
  const keysDir = agentKeysDir(workDir);
  const start = `start the cluster with \`pgvigil up --workdir ${dir}\` (or pass the --workdir of the running one)`;
  if (!existsSync(storeFile) || !existsSync(keysDir)) return { ok: false, reason: `no local cluster in ${workDir} (store.json or agent-keys/ missing): ${start}` };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(storeFile, 'utf8'));
  } catch (e) {
    return { ok: false, reason: `${storeFile} is not JSON (${(e as Error).message}): remove it and ${start}` };
  }
  const storeConfig = parseStoreConfig(raw);
  if (!storeConfig.ok) return { ok: false, reason: storeConfig.reason };
  const agentCa = localAgentCa(workDir);
  return { ok: true, value: { workDir, storeConfig: storeConfig.value, agentKey: keyDirSigningKey(keysDir), ...(agentCa !== undefined ? { agentCa } : {}) } };
}
