import type { ClusterSpec, ReplicationSpec } from './spec.ts';

/**
 * `synchronous_standby_names` as pgvigil wants it: `ANY k (every node that may be
 * synchronous)`, the primary included (a server never counts itself, so the same value is
 * right on whichever node is promoted), '' for async or when no node may be synchronous.
 */
export function synchronousStandbyNames(replication: ReplicationSpec, syncCandidates: readonly string[]): string {
  if (replication.mode !== 'synchronous' || syncCandidates.length === 0) return '';
  const k = Math.min(replication.quorum, syncCandidates.length);
  return `ANY ${k} (${syncCandidates.join(', ')})`;
}

/** The value every node of `spec` should have. */
export function specSyncNames(spec: ClusterSpec): string {
  return synchronousStandbyNames(
    spec.replication,
    spec.nodes.filter((n) => !n.tags.nosync).map((n) => n.name),
  );
}

/** What a primary waits for before acknowledging a commit: `k` of `names` (itself never counts). */
export interface CommitQuorum {
  method: 'any' | 'first';
  k: number;
  names: string[];
}

/**
 * Parses the setting as PostgreSQL reads it (`ANY k (…)`, `FIRST k (…)`, `k (…)`, a bare list,
 * '' or '*'-free names, quoted or not). Null for '' (asynchronous commits); 'unparsed' for
 * anything else, which the decider then treats as unknown.
 */
export function parseSyncNames(text: string): CommitQuorum | null | 'unparsed' {
  const t = text.trim();
  if (t === '') return null;
  const m = /^(?:(ANY|FIRST)\s+)?(?:(\d+)\s*\((.*)\)|(.*))$/is.exec(t);
  if (!m) return 'unparsed';
  const list = (m[3] ?? m[4] ?? '').split(',').map((s) => s.trim().replace(/^"(.*)"$/, '$1').toLowerCase());
  if (list.some((n) => n === '' || n === '*')) return 'unparsed';
  const k = m[2] === undefined ? 1 : Number(m[2]);
  const method = m[1]?.toLowerCase() === 'any' ? 'any' : 'first';
  // A bare list is FIRST 1; `k (…)` without a keyword is FIRST k.
  return { method, k, names: list };
}

/**
 * Whether a primary named `primary` with setting `reported` waits for the same commit quorum as
 * the spec asks: same method and k, and the same names once the primary itself is left out.
 */
export function sameCommitQuorum(reported: string, expected: string, primary: string): boolean {
  const a = parseSyncNames(reported);
  const b = parseSyncNames(expected);
  if (a === 'unparsed' || b === 'unparsed') return false;
  if (a === null || b === null) return a === b;
  const others = (q: CommitQuorum) => [...new Set(q.names.filter((n) => n !== primary.toLowerCase()))].sort().join(',');
  const k = (q: CommitQuorum) => Math.min(q.k, new Set(q.names.filter((n) => n !== primary.toLowerCase())).size);
  return a.method === b.method && k(a) === k(b) && others(a) === others(b);
}

/** The primary's setting as the log last recorded it (SyncNamesReported). */
export interface ReportedSyncNames {
  node: string;
  value: string;
  expected: string;
  matches: boolean;
}

/**
 * Synchronous mode's quorum arithmetic (the quorum proof, the candidate rule) reasons about the
 * spec's `ANY k (…)`. It holds only if `from`, the primary it reasons about, was last seen
 * waiting for exactly that quorum: a host configured by hand may commit asynchronously, and a
 * member removed from the spec may still be acknowledging commits.
 */
export function quorumArithmeticHolds(spec: ClusterSpec, reported: ReportedSyncNames | null, from: string): { ok: true } | { ok: false; reason: string } {
  const expected = specSyncNames(spec);
  if (reported === null || reported.node !== from) {
    return { ok: false, reason: `${from}'s synchronous_standby_names has not been seen while it was primary, so the quorum it committed with is unknown` };
  }
  if (!sameCommitQuorum(reported.value, expected, from)) {
    return { ok: false, reason: `${from} committed with synchronous_standby_names '${reported.value}' but the spec asks '${expected}', so the spec's quorum says nothing about its commits` };
  }
  return { ok: true };
}
