import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from './durableFile.ts';

export type TermCheck = { ok: true; term: number } | { ok: false; reason: string; currentTerm: number };

/**
 * The highest term this agent has seen, on disk. A higher term is persisted (and fsynced)
 * before the action runs, so after a crash the agent still refuses the older term.
 * Equal terms pass: the control plane retries an action with the same term.
 * Callers serialize actions, so check-then-write here does not race.
 */
export class TermStore {
  private constructor(
    private readonly path: string,
    private term: number,
  ) {}

  static async open(stateDir: string): Promise<TermStore> {
    const path = join(stateDir, 'term.json');
    let term = 0;
    try {
      const parsed = JSON.parse(await readFile(path, 'utf8')) as { term?: unknown };
      if (typeof parsed.term !== 'number' || !Number.isInteger(parsed.term) || parsed.term < 0) {
        // A corrupt term file must stop the agent, never reset it to 0 (that would accept stale terms).
        throw new Error(`term file ${path} is corrupt: fix or remove it by hand after checking the cluster's current term`);
      }
      term = parsed.term;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return new TermStore(path, term);
  }

  get current(): number {
    return this.term;
  }

  async admit(term: number): Promise<TermCheck> {
    if (term < this.term) {
      return { ok: false, reason: `stale term ${term}: this agent has seen term ${this.term}`, currentTerm: this.term };
    }
    if (term > this.term) {
      await writeFileDurably(this.path, `${JSON.stringify({ term, at: new Date().toISOString() })}\n`);
      this.term = term;
    }
    return { ok: true, term };
  }
}
