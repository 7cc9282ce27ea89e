import { chmod, chown, mkdir } from 'node:fs/promises';
import type { OsUser } from '../postgres/osUser.ts';
import { sqlOnce } from '../postgres/sqlOnce.ts';
import { ensureServerCert, type ClusterCa } from './clusterTls.ts';
import type { HostFiles } from './hostFiles.ts';
import { CURRENT_ROLES_SQL, ROLE_GRANTS, roleStatements, type RolePasswords } from './roles.ts';
import { ensurePasswordFile, readSecret, writeReplicationPassfile } from './secretFiles.ts';

export interface PrepareHostOptions {
  files: HostFiles;
  /** This host's name and the addresses its certificate names. */
  name: string;
  addresses: string[];
  /** The cluster CA (clusterTls.ensureCa, or caSource.resolveCa for a bootstrap). */
  ca: ClusterCa;
  osUser: OsUser | null;
  /** Passwords fetched elsewhere (SSM parameters; Secrets Manager on hosts set up before); absent ones are generated into their files. */
  passwords?: Partial<RolePasswords>;
}

/**
 * Everything of a host outside its data directory: the TLS files, the role passwords and the
 * replication passfile. Idempotent: what exists and is right is kept.
 */
export async function prepareHost(o: PrepareHostOptions): Promise<{ passwords: RolePasswords }> {
  const { files, osUser } = o;
  // The server's OS user reaches its key, passfile and socket through here; the secrets are guarded by their own modes.
  await mkdir(files.dir, { recursive: true, mode: 0o711 });
  await chmod(files.dir, 0o711);
  await mkdir(files.socketDir, { recursive: true, mode: 0o755 });
  if (osUser) await chown(files.socketDir, osUser.uid, osUser.gid);
  await ensureServerCert(files, o.ca, { name: o.name, addresses: o.addresses, owner: osUser });
  const monitor = o.passwords?.monitor ?? (await ensurePasswordFile(files.monitorPasswordFile));
  const replication = o.passwords?.replication ?? (await ensurePasswordFile(files.replicationPasswordFile));
  const passfileText = await readSecret(files.passfile).catch(() => null);
  if (passfileText === null || !passfileText.endsWith(`:${replication}`)) await writeReplicationPassfile(files.passfile, replication, osUser);
  return { passwords: { monitor, replication } };
}

/** Creates the roles or sets their passwords on a running primary, only where they differ. Answers how many statements ran. */
export async function ensureRoles(at: { host: string; port: number }, passwords: RolePasswords): Promise<number> {
  const rows = await sqlOnce<{ rolname: string; rolpassword: string | null }>(at.port, CURRENT_ROLES_SQL, [], { host: at.host });
  const statements = roleStatements(new Map(rows.map((r) => [r.rolname, r.rolpassword])), passwords);
  for (const s of statements) await sqlOnce(at.port, s, [], { host: at.host });
  for (const g of ROLE_GRANTS) await sqlOnce(at.port, g, [], { host: at.host });
  return statements.length;
}
