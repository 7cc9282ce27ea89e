/**
 * Partition keys by trust domain. IAM can scope a principal's writes only by partition
 * (`dynamodb:LeadingKeys`), never by sort key, so every writer gets partitions of its own:
 *
 * - `<cluster>`: decisions (D#) and snapshots (S#): only decide writes them;
 * - `obs#<cluster>`: observations (O#): only the probe writes them;
 * - `lease#<cluster>#<node>`: one node's lease (L#): only that node's agent writes it;
 * - `claims#<cluster>`: claims (lib/store/claims.ts): decide and notify.
 *
 * Cluster and node names hold no '#' (spec.ts), so a prefix can never be mistaken for a name.
 */
export const OBSERVATIONS_PARTITION_PREFIX = 'obs#';
export const LEASE_PARTITION_PREFIX = 'lease#';

export const observationsPartition = (cluster: string): string => `${OBSERVATIONS_PARTITION_PREFIX}${cluster}`;
export const leasePartition = (cluster: string, node: string): string => `${LEASE_PARTITION_PREFIX}${cluster}#${node}`;

/**
 * The cluster a partition key belongs to: a stream record's `cluster` key is a partition key,
 * so decide (woken by observations) reads the cluster back from `obs#<cluster>`.
 */
export function clusterOfPartition(partition: string): string {
  if (partition.startsWith(OBSERVATIONS_PARTITION_PREFIX)) return partition.slice(OBSERVATIONS_PARTITION_PREFIX.length);
  if (partition.startsWith(LEASE_PARTITION_PREFIX)) return partition.slice(LEASE_PARTITION_PREFIX.length).split('#')[0] ?? partition;
  const hash = partition.indexOf('#');
  return hash === -1 ? partition : partition.slice(hash + 1);
}
