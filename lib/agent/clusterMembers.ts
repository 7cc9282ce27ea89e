import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { parseWith } from '../domain/parse.ts';
import { NodeName } from '../domain/spec.ts';
import type { ClusterState } from '../domain/state.ts';
import type { ClusterSpec } from '../domain/spec.ts';
import { catchUp, loadState } from '../store/loadState.ts';
import type { Store } from '../store/store.ts';
import { writeFileDurably } from './durableFile.ts';

/**
 * The other members of this node's cluster spec, as the decision log last said: the standbys
 * whose streaming lets the lease loop keep a primary serving past a lapsed lease (rule 3).
 * Learned from the store while it answers, and kept in the state directory so an agent
 * restarted during a store outage still knows them. Never learned: null, which the lease loop
 * treats as "not every standby streams".
 */
export class ClusterMembers {
  private known: { state: ClusterState; seq: number } | null = null;
  private members: readonly string[] | null = null;
  private readonly path: string | null;

  constructor(
    private readonly cluster: string,
    private readonly node: string,
    stateDir: string | null,
  ) {
    this.path = stateDir === null ? null : join(stateDir, 'members.json');
  }

  /** The spec as last read from the store (not kept across restarts), or null. */
  get spec(): ClusterSpec | null {
    return this.known?.state.spec ?? null;
  }

  /** The log's term as last read from the store, or null when never read. */
  get term(): number | null {
    return this.known?.state.term ?? null;
  }

  /** The log's primary (of its current term) as last read from the store, or null (never read, or none in the log). */
  get primary(): string | null {
    return this.known?.state.primary ?? null;
  }

  /** The spec's other nodes, or null when never learned. */
  get others(): readonly string[] | null {
    return this.members;
  }

  /** Load what an earlier run learned. A missing or unreadable file leaves the members unknown. */
  async loadCached(): Promise<{ ok: true; members: readonly string[] | null } | { ok: false; reason: string }> {
    if (this.path === null) return { ok: true, members: null };
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, members: null };
      return { ok: false, reason: `cannot read ${this.path}: ${(e as Error).message}` };
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return { ok: false, reason: `${this.path} is not JSON: ${(e as Error).message}` };
    }
    const parsed = parseWith(MembersFile, json, this.path);
    if (!parsed.ok) return parsed;
    if (parsed.value.cluster !== this.cluster || parsed.value.node !== this.node) {
      return { ok: false, reason: `${this.path} is of ${parsed.value.node} in ${parsed.value.cluster}, not of ${this.node} in ${this.cluster}` };
    }
    this.members = parsed.value.members;
    return { ok: true, members: this.members };
  }

  /**
   * Read the decisions since the last read (the whole log, from its newest snapshot, the
   * first time) and keep the spec's other nodes; written to the state directory when they change.
   */
  async refresh(store: Store): Promise<{ ok: true; members: readonly string[] | null; changed: boolean } | { ok: false; reason: string }> {
    const read = this.known === null ? await loadState(store, this.cluster) : await catchUp(store, this.cluster, this.known);
    if (!read.ok) return { ok: false, reason: read.reason };
    this.known = { state: read.state, seq: read.seq };
    const spec = read.state.spec;
    // Not initialized yet: no decision can have counted a lease, and nothing is known.
    if (spec === null) return { ok: true, members: this.members, changed: false };
    const next = spec.nodes.map((n) => n.name).filter((n) => n !== this.node);
    const changed = this.members === null || next.length !== this.members.length || next.some((n, i) => n !== this.members![i]);
    if (changed) {
      if (this.path !== null) {
        await writeFileDurably(this.path, `${JSON.stringify({ v: 1, cluster: this.cluster, node: this.node, seq: read.seq, members: next })}\n`);
      }
      this.members = next;
    }
    return { ok: true, members: this.members, changed };
  }
}

const MembersFile = z.object({
  v: z.literal(1),
  cluster: NodeName,
  node: NodeName,
  /** The decision the members were read at. */
  seq: z.number().int().min(0),
  members: z.array(NodeName),
});
