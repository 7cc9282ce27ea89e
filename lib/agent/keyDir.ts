import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SigningKey } from './agentClient.ts';

/**
 * A directory of agent keys, one file per node (`<dir>/<cluster>/<node>.key`, mode 0600): local
 * mode's work dir keeps them so. A file holds the node's key, or during a rotation the new key
 * then the previous one; the node's agent accepts both (agentKeyRing.ts), a signer uses the first.
 */
export function keyDirPath(dir: string, cluster: string, node: string): string {
  return join(dir, cluster, `${node}.key`);
}

/** Signs for each node with the first line of its key file, read at each call (a rotation is seen at once). */
export function keyDirSigningKey(dir: string): SigningKey {
  return async (t) => {
    const path = keyDirPath(dir, t.cluster, t.node);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new Error(`cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'}): every node's agent key lives in a file of its own`);
    }
    return Buffer.from(firstKeyLine(text, path), 'utf8');
  };
}

export function firstKeyLine(text: string, path: string): string {
  const line = text.split('\n').map((l) => l.trim()).find((l) => l !== '');
  if (!line) throw new Error(`${path} holds no key`);
  return line;
}
