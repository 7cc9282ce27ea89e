import type { ClusterSpec } from '../domain/spec.ts';

/**
 * How clients reach the writer with no endpoint to move: every node listed, the client tries
 * them in order and keeps the one that takes writes. libpq (psql, psycopg, node-postgres with
 * libpq's syntax), JDBC and Npgsql all do this. A failover then costs the client one reconnect,
 * with no DNS record to propagate or cache to expire; the DNS name is the fallback for clients
 * that take one host only.
 */
export interface WriterConnectStrings {
  /** libpq key/value conninfo. */
  libpq: string;
  /** libpq URI. */
  uri: string;
  /** PostgreSQL JDBC. */
  jdbc: string;
}

export function writerConnectStrings(spec: Pick<ClusterSpec, 'nodes'>, database = 'postgres'): WriterConnectStrings {
  const hosts = spec.nodes.map((n) => n.host);
  const ports = spec.nodes.map((n) => String(n.port));
  const hostPorts = spec.nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(',');
  return {
    libpq: `host=${hosts.join(',')} port=${ports.join(',')} dbname=${database} target_session_attrs=read-write`,
    uri: `postgresql://${hostPorts}/${database}?target_session_attrs=read-write`,
    jdbc: `jdbc:postgresql://${hostPorts}/${database}?targetServerType=primary`,
  };
}
