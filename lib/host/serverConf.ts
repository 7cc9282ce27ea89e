import { confLines } from '../postgres/autoConf.ts';

/**
 * The settings every node of a cluster shares (pgvigil.cluster.conf), derived from the spec and
 * the host layout: the same text on every node of a host family, so a base backup copies the
 * right one. synchronous_standby_names is written here only as the starting value: the agent's
 * syncNamesKeeper keeps it (ALTER SYSTEM) on the primary.
 */
export interface ServerConfInput {
  /** '*' on hosts (pg_hba decides who gets in); '127.0.0.1' in local mode. */
  listenAddresses: string;
  /** '' for none (local mode: socket paths are length-limited and /tmp is shared). */
  unixSocketDirectories: string;
  /** Absent only for nodes set up by hand in tests (test/support/netnsHosts.ts): no TLS. */
  tls?: { certFile: string; keyFile: string; caFile: string };
  walReceiverTimeoutMs: number;
  synchronousStandbyNames: string;
  /** PostgreSQL's archive_command; archiving is off without it. */
  archiveCommand?: string;
  /** Memory and connection limits: small for local mode, PostgreSQL's defaults elsewhere. */
  sizing: 'local' | 'host';
  extraConf?: Record<string, string>;
}

export function serverConfText(input: ServerConfInput): string {
  const sizing: Record<string, string | number> = input.sizing === 'local' ? { max_connections: 40, shared_buffers: '32MB' } : {};
  const base = confLines({
    listen_addresses: input.listenAddresses,
    unix_socket_directories: input.unixSocketDirectories,
    ...sizing,
    ...(input.tls
      ? { ssl: true as const, ssl_cert_file: input.tls.certFile, ssl_key_file: input.tls.keyFile, ssl_ca_file: input.tls.caFile, ssl_min_protocol_version: 'TLSv1.2' }
      : {}),
    password_encryption: 'scram-sha-256',
    wal_level: 'replica',
    max_wal_senders: 10,
    max_replication_slots: 10,
    hot_standby: true,
    hot_standby_feedback: true,
    wal_keep_size: '64MB',
    // pg_rewind needs hint bits WAL-logged (data checksums are on too).
    wal_log_hints: true,
    wal_receiver_timeout: `${input.walReceiverTimeoutMs}ms`,
    // The primary drops a dead standby's row from pg_stat_replication as fast as a standby notices a dead primary.
    wal_sender_timeout: `${input.walReceiverTimeoutMs}ms`,
    wal_receiver_status_interval: '1s',
    synchronous_standby_names: input.synchronousStandbyNames,
    synchronous_commit: 'on',
    ...(input.archiveCommand ? { archive_mode: 'on', archive_command: input.archiveCommand, archive_timeout: '60s' } : ({} as Record<string, string>)),
    logging_collector: true,
    log_directory: 'log',
    log_filename: 'postgresql.log',
    log_line_prefix: '%m [%p] %q%u@%d ',
  });
  const extra = input.extraConf && Object.keys(input.extraConf).length > 0 ? `\n# extra\n${confLines(input.extraConf)}` : '';
  return `# written by pgvigil (${input.sizing === 'local' ? 'local mode' : 'host bootstrap'}); the same on every node\n${base}${extra}\n`;
}
