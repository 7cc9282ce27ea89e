import { confLines } from './autoConf.ts';

/**
 * The pgvigil layout of a node's configuration and how a standby is pointed at its
 * upstream: one definition for the agent, local mode and backups.
 */
export const REPLICATION_USER = 'replicator';

/** Per-node settings file of the pgvigil layout (port, cluster_name); rewritten after a copy from a peer. */
export const NODE_CONF = 'pgvigil.node.conf';

/**
 * The text of NODE_CONF: this node's port and its cluster_name (the name standbys and probes
 * know it by), and what else is its host's own (a bootstrapped host's socket and TLS files:
 * a copy from a peer must not carry the peer's paths).
 */
export function nodeConfText(node: { name: string; port: number }, host: Record<string, string> = {}): string {
  return `# written by pgvigil: this node's own settings\n${confLines({ port: node.port, cluster_name: node.name, ...host })}\n`;
}

/** Replication slot names allow only [a-z0-9_]; node names may hold dashes. */
export function slotName(nodeName: string): string {
  return nodeName.replace(/-/g, '_');
}

/**
 * How a node logs in to its peers as REPLICATION_USER: the password from a libpq passfile
 * (mode 0600, owned by the server's OS user) and TLS checked against the cluster's CA. Paths,
 * never the password, so conninfo strings and tool environments can be shown and compared.
 */
export interface ReplicationAuth {
  passfile: string;
  sslRootCert: string;
}

/** application_name MUST be the node name: probes and synchronous_standby_names identify standbys by it. */
export function primaryConninfo(upstream: { host: string; port: number }, nodeName: string, auth?: ReplicationAuth | null): string {
  return `host=${upstream.host} port=${upstream.port} user=${REPLICATION_USER} application_name=${nodeName}${authParams(auth)}`;
}

/**
 * libpq conninfo for pg_rewind's source session on a peer. With auth it logs in as
 * REPLICATION_USER, which the host bootstrap grants the four functions pg_rewind reads files
 * with (PostgreSQL's documented non-superuser rewind); without, as the superuser (old layouts).
 */
export function superuserConninfo(peer: { host: string; port: number }, auth?: ReplicationAuth | null): string {
  const user = auth ? REPLICATION_USER : 'postgres';
  return `host=${peer.host} port=${peer.port} user=${user} dbname=postgres connect_timeout=5${authParams(auth)}`;
}

/** The same login for libpq tools (pg_basebackup, pg_rewind) run without a conninfo of ours. */
export function replicationToolEnv(auth?: ReplicationAuth | null): Record<string, string> {
  return auth ? { PGPASSFILE: auth.passfile, PGSSLMODE: 'verify-ca', PGSSLROOTCERT: auth.sslRootCert } : {};
}

function authParams(auth: ReplicationAuth | null | undefined): string {
  if (!auth) return '';
  return ` sslmode=verify-ca sslrootcert=${conninfoValue(auth.sslRootCert)} passfile=${conninfoValue(auth.passfile)}`;
}

/** libpq quoting: a value with spaces or quotes goes in single quotes, backslash-escaped. */
function conninfoValue(v: string): string {
  return /^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
