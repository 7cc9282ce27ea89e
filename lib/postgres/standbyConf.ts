import { confLines } from './autoConf.ts';

/**
 * The pgvigil layout of a node's configuration and how a standby is pointed at its
 * upstream: one definition for the agent, local mode and backups.
 */
export const REPLICATION_USER = 'replicator';

/** Per-node settings file of the pgvigil layout (port, cluster_name); rewritten after a copy from a peer. */
export const NODE_CONF = 'pgvigil.node.conf';

/** The text of NODE_CONF: this node's port and its cluster_name (the name standbys and probes know it by). */
export function nodeConfText(node: { name: string; port: number }): string {
  return `# written by pgvigil: this node's own settings\n${confLines({ port: node.port, cluster_name: node.name })}\n`;
}

/** Replication slot names allow only [a-z0-9_]; node names may hold dashes. */
export function slotName(nodeName: string): string {
  return nodeName.replace(/-/g, '_');
}

/** application_name MUST be the node name: probes and synchronous_standby_names identify standbys by it. */
export function primaryConninfo(upstream: { host: string; port: number }, nodeName: string): string {
  return `host=${upstream.host} port=${upstream.port} user=${REPLICATION_USER} application_name=${nodeName}`;
}

/** libpq conninfo for a superuser session on a peer (pg_rewind's source). */
export function superuserConninfo(peer: { host: string; port: number }): string {
  return `host=${peer.host} port=${peer.port} user=postgres dbname=postgres connect_timeout=5`;
}
