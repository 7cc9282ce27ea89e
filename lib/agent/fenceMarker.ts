import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from './durableFile.ts';

export interface Fenced {
  term: number;
  why: string;
  at: string;
}

/**
 * A file in the agent's state dir saying "PostgreSQL here must stay stopped". Fence and
 * self-fencing set it; follow, rewind and clone (the control plane telling us what this
 * node is now) clear it. The agent stops any server it finds running while it is set.
 */
export class FenceMarker {
  private readonly path: string;
  constructor(stateDir: string) {
    this.path = join(stateDir, 'fenced.json');
  }

  async get(): Promise<Fenced | null> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as Fenced;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      // Unreadable marker: treat as set, the safe side.
      return { term: -1, why: `unreadable fence marker: ${(e as Error).message}`, at: '' };
    }
  }

  async set(term: number, why: string): Promise<void> {
    await writeFileDurably(this.path, `${JSON.stringify({ term, why, at: new Date().toISOString() })}\n`);
  }

  async clear(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
