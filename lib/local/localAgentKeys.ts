import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { firstKeyLine, keyDirPath } from '../agent/keyDir.ts';
import { writeSecretFile } from '../host/secretFiles.ts';
import { localHostFiles } from './localHostFiles.ts';

/**
 * Local mode's agent keys: one file per node in the work dir (mode 0600, lib/agent/keyDir.ts),
 * read by that node's agent (its keyFile) and by whoever signs for it (local mode's control
 * plane, the CLI, handler runs through PGVIGIL_AGENT_KEY_DIR).
 */
export function agentKeysDir(workDir: string): string {
  return join(workDir, 'agent-keys');
}

export function agentKeyPath(workDir: string, cluster: string, node: string): string {
  return keyDirPath(agentKeysDir(workDir), cluster, node);
}

const newKey = () => randomBytes(32).toString('hex');

/** The node's key file, made with a fresh key when absent: a resumed cluster keeps its keys. */
export async function ensureAgentKeyFile(workDir: string, cluster: string, node: string): Promise<string> {
  const path = agentKeyPath(workDir, cluster, node);
  if (!existsSync(path)) await writeSecretFile(path, `${newKey()}\n`);
  return path;
}

/**
 * A rotation: a new key first, the current one kept as the previous. Signers read the file at
 * each call and sign with the new key at once; the agent reads its file again at the first
 * request its held keys don't verify, and keeps accepting the old key until the next rotation.
 */
export async function rotateAgentKeyFile(workDir: string, cluster: string, node: string): Promise<void> {
  const path = agentKeyPath(workDir, cluster, node);
  const current = firstKeyLine(await readFile(path, 'utf8'), path);
  await writeSecretFile(path, `${newKey()}\n${current}\n`);
}

/** The cluster CA local mode's agents serve HTTPS with (the host files' CA); undefined for a work dir from before TLS. */
export function localAgentCa(workDir: string): string | undefined {
  const ca = localHostFiles(workDir).caCert;
  return existsSync(ca) ? readFileSync(ca, 'utf8') : undefined;
}
