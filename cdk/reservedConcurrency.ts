import type { ClusterSpec } from '../lib/domain/spec.ts';
import type { HandlerName } from './bundling.ts';

/**
 * The concurrency each handler is given with `-c reservedConcurrency=true`: kept for the control
 * plane whatever else the account runs (a busy function elsewhere can otherwise take the whole
 * account's pool), and also its cap, past which Lambda throttles. Sized for the worst moment, a
 * failover in every cluster at once:
 * - act: every pending intent runs at once (handOff.ts), at most one per node and the endpoints' per cluster;
 * - decide: each act answers by invoking decide and waiting, beside the stream's shard, the tick and an operator;
 * - probe: the minute's run overlaps the next by up to its 70 s timeout, and a woken run beside them;
 * - notify: one run per stream shard, and a shard's child while its parent ends.
 */
export function reservedConcurrencyFor(clusters: readonly ClusterSpec[]): Record<HandlerName, number> {
  const act = clusters.reduce((n, c) => n + c.nodes.length + 1, 0);
  return { act, decide: act + 3, probe: 3, notify: 2 };
}
