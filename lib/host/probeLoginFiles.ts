import { readFile } from 'node:fs/promises';
import type { ProbeLogin } from '../probe/probeLogin.ts';
import type { HostFiles } from './hostFiles.ts';
import { MONITOR_USER } from './roles.ts';
import { readSecret } from './secretFiles.ts';

/** The probe's login from files: pgvigil_monitor, its password file (a host's own by default), TLS checked against the cluster CA. */
export async function probeLoginFromFiles(files: Pick<HostFiles, 'caCert'> & { monitorPasswordFile: string }): Promise<ProbeLogin> {
  const password = await readSecret(files.monitorPasswordFile);
  if (password === null) throw new Error(`no monitoring password in ${files.monitorPasswordFile}: run the host bootstrap (pgvigil-agent bootstrap) first`);
  return { user: MONITOR_USER, password, ssl: { mode: 'verify-full', ca: await readFile(files.caCert, 'utf8') } };
}
