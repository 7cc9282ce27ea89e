import type { ClusterSpec, NodeSpec } from '../domain/spec.ts';
import { sqlOnce } from '../postgres/sqlOnce.ts';

export type SourceChoice = { ok: true; node: NodeSpec } | { ok: false; reason: string };

/** Null when the node is a standby whose WAL receiver streams; else why it can't be a source. */
async function notStreamingStandby(node: NodeSpec): Promise<string | null> {
  try {
    const [row] = await sqlOnce<{ recovery: boolean; status: string | null }>(
      node.port,
      'SELECT pg_is_in_recovery() AS recovery, (SELECT status FROM pg_stat_wal_receiver) AS status',
      [],
      { host: node.host, timeoutMs: 2_000 },
    );
    if (!row?.recovery) return 'it is not in recovery (a primary)';
    return row.status === 'streaming' ? null : `its WAL receiver is ${row.status ?? 'not running'}`;
  } catch (e) {
    return `it does not answer (${(e as Error).message})`;
  }
}

/**
 * The standby to copy from: `from` when given, else the first streaming standby of the spec.
 * Never the primary: copies are taken from standbys so the primary serves no base backup.
 */
export async function chooseStandbySource(spec: ClusterSpec, primary: string | null, from?: string): Promise<SourceChoice> {
  if (from !== undefined) {
    const node = spec.nodes.find((n) => n.name === from);
    if (!node) return { ok: false, reason: `--from ${from}: no such node (nodes: ${spec.nodes.map((n) => n.name).join(', ')})` };
    if (from === primary) return { ok: false, reason: `--from ${from}: it is the primary; copies come from a standby so the primary serves no base backup: name a standby` };
    const why = await notStreamingStandby(node);
    return why ? { ok: false, reason: `--from ${from}: ${why}; name a streaming standby (pgvigil status)` } : { ok: true, node };
  }
  const tried: string[] = [];
  for (const node of spec.nodes) {
    if (node.name === primary) continue;
    const why = await notStreamingStandby(node);
    if (!why) return { ok: true, node };
    tried.push(`${node.name}: ${why}`);
  }
  return { ok: false, reason: `no streaming standby to copy from (${tried.join('; ') || 'the cluster has no standby'}): copies are never taken from the primary` };
}
