/** pgvigil's application client: read/write splitting with read-your-writes. */
export { createCluster } from './cluster.ts';
export type { Cluster, ClientStats, ReadOptions, Transaction } from './cluster.ts';
export { InterruptedCommitError } from './commitStatus.ts';
export { parseClusterOptions } from './options.ts';
export type { ClusterOptions, ClusterOptionsInput } from './options.ts';
