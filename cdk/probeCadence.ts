import type { ClusterSpec } from '../lib/domain/spec.ts';
import type { ProbeCadence } from './functions.ts';

/**
 * The probe cadence a deployment runs. On-wake, the probe sees a primary only from the moment
 * something wakes it, so the LSN it last saw the primary write is from its last run, up to a
 * minute before the failure: async mode bounds a failover's loss by that LSN and would refuse
 * every automatic failover (lib/domain/candidates.ts, "staleness"). Synchronous mode does not
 * need it: the candidate is the quorum member holding the highest LSN, which the probe reads
 * from the standbys, alive, after the failure.
 */
export function resolveProbeCadence(clusters: readonly ClusterSpec[], asked: ProbeCadence | undefined): ProbeCadence {
  const async = clusters.filter((c) => c.replication.mode === 'async').map((c) => c.cluster);
  if (asked === 'on-wake' && async.length > 0) {
    throw new Error(
      `PgVigil: probeCadence 'on-wake' with async replication (${async.join(', ')}): a failover's loss bound needs the primary's last LSN from just before it failed, which only the always-on probe has: use probeCadence 'always' (about 4.4 USD a month more) or synchronous replication`,
    );
  }
  return asked ?? (async.length > 0 ? 'always' : 'on-wake');
}
