import { join } from 'node:path';
import type { ReplicationAuth } from '../postgres/standbyConf.ts';

/**
 * Where a host keeps what the bootstrap makes, outside the data directory: pg_basebackup and
 * pg_rewind copy a data directory whole, and a host's key and passwords must stay its own.
 * Local mode is one host, so its nodes share one set under the work directory.
 */
export interface HostFiles {
  dir: string;
  tlsDir: string;
  /** The cluster CA's certificate: servers' ssl_ca_file, clients' sslrootcert. */
  caCert: string;
  /** This host's server certificate and key (mode 0600, owned by the server's OS user). */
  serverCert: string;
  serverKey: string;
  /** libpq passfile of the replication login (mode 0600, owned by the server's OS user). */
  passfile: string;
  /** The monitoring role's password, for the probe (mode 0600). */
  monitorPasswordFile: string;
  /** The replication role's password, from which the passfile is written (mode 0600). */
  replicationPasswordFile: string;
  /** Where the server's unix socket lives (the agent and the bootstrap log in there as the superuser). */
  socketDir: string;
}

export function hostFiles(dir: string): HostFiles {
  const tlsDir = join(dir, 'tls');
  return {
    dir,
    tlsDir,
    caCert: join(tlsDir, 'ca.crt'),
    serverCert: join(tlsDir, 'server.crt'),
    serverKey: join(tlsDir, 'server.key'),
    passfile: join(dir, 'replication.pgpass'),
    monitorPasswordFile: join(dir, 'monitor.password'),
    replicationPasswordFile: join(dir, 'replication.password'),
    socketDir: join(dir, 'run'),
  };
}

export function replicationAuthOf(files: HostFiles): ReplicationAuth {
  return { passfile: files.passfile, sslRootCert: files.caCert };
}
