import { spawnSync } from 'node:child_process';
import { copyFile, chmod, chown, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { OsUser } from '../postgres/osUser.ts';
import type { HostFiles } from './hostFiles.ts';

/**
 * TLS for a cluster with the openssl CLI (node:crypto reads X.509 but cannot issue it): one CA
 * per cluster, one server certificate per host signed by it. Clients check the chain
 * (sslmode=verify-ca), so a host's certificate needs no name a client would match.
 */
export interface ClusterCa {
  cert: string;
  key: string;
}

const CURVE = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
const DAYS = '3650';

/**
 * The CA kept in `dir` (ca.crt, ca.key), made there when absent. Several bootstraps may race on
 * one shared directory: each makes its own in a private directory and renames it into place;
 * the rename of all but the first fails and they use the winner's.
 */
export async function ensureCa(dir: string, cluster: string): Promise<ClusterCa> {
  const ca: ClusterCa = { cert: join(dir, 'ca', 'ca.crt'), key: join(dir, 'ca', 'ca.key') };
  if (existsSync(ca.cert) && existsSync(ca.key)) return ca;
  // The directory may be the host's own (local mode): traversable, the key guarded by ca/ (0700, mkdtemp's mode).
  await mkdir(dir, { recursive: true, mode: 0o711 });
  const work = await mkdtemp(join(dir, '.ca-'));
  try {
    openssl([
      'req', '-x509', '-new', ...CURVE, '-nodes', '-days', DAYS,
      '-keyout', join(work, 'ca.key'), '-out', join(work, 'ca.crt'),
      '-subj', `/CN=pgvigil ${cluster} CA`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await chmod(join(work, 'ca.key'), 0o600);
    try {
      await rename(work, join(dir, 'ca'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return ca;
}

/**
 * This host's certificate in files.tlsDir, issued by `ca` for the given addresses, and the CA's
 * certificate beside it. Kept as it is when it already chains to this CA and names these
 * addresses: a re-run changes nothing.
 */
export async function ensureServerCert(files: HostFiles, ca: ClusterCa, o: { name: string; addresses: string[]; owner: OsUser | null }): Promise<{ changed: boolean }> {
  await mkdir(files.tlsDir, { recursive: true, mode: 0o755 });
  const san = [...new Set(o.addresses)].map((a) => (isIP(a) ? `IP:${a}` : `DNS:${a}`)).join(',');
  let changed = false;
  if (!existsSync(files.caCert) || !sameFile(files.caCert, ca.cert)) {
    await copyFile(ca.cert, files.caCert);
    await chmod(files.caCert, 0o644);
    changed = true;
  }
  if (existsSync(files.serverCert) && existsSync(files.serverKey) && chainsTo(files.serverCert, ca.cert) && namesAll(files.serverCert, san)) return { changed };
  const work = await mkdtemp(join(files.tlsDir, '.issue-'));
  try {
    const key = join(work, 'server.key');
    const csr = join(work, 'server.csr');
    const crt = join(work, 'server.crt');
    const ext = join(work, 'ext.cnf');
    openssl(['req', '-new', ...CURVE, '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${o.name}`]);
    await writeFile(ext, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${san}\n`);
    openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomSerial()}`, '-days', DAYS, '-extfile', ext, '-out', crt]);
    // PostgreSQL refuses a key others can read; it must belong to the server's OS user.
    await chmod(key, 0o600);
    if (o.owner) await chown(key, o.owner.uid, o.owner.gid);
    await chmod(crt, 0o644);
    await rename(key, files.serverKey);
    await rename(crt, files.serverCert);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { changed: true };
}

function chainsTo(cert: string, caCert: string): boolean {
  return spawnSync('openssl', ['verify', '-CAfile', caCert, cert], { encoding: 'utf8' }).status === 0;
}

function namesAll(cert: string, san: string): boolean {
  const r = spawnSync('openssl', ['x509', '-in', cert, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });
  if (r.status !== 0) return false;
  // openssl prints "IP Address:10.0.0.1, DNS:host"; ours is "IP:10.0.0.1,DNS:host".
  const have = new Set(r.stdout.split('\n').slice(1).join(',').split(',').map((s) => s.trim().replace(/^IP Address:/, 'IP:')).filter(Boolean));
  return san.split(',').every((s) => have.has(s));
}

function sameFile(a: string, b: string): boolean {
  const r = spawnSync('cmp', ['-s', a, b]);
  return r.status === 0;
}

function randomSerial(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new Error(`openssl ${args[0]}: ${r.error.message}: install openssl (apt-get install openssl, dnf install openssl)`);
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${(r.stderr || r.stdout).trim()}`);
}
