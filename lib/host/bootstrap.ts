import { existsSync } from 'node:fs';
import { chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { userInfo } from 'node:os';
import type { OsUser } from '../postgres/osUser.ts';
import { runPg } from '../postgres/pgCommand.ts';
import { PgServer } from '../postgres/pgServer.ts';
import { sqlOnce } from '../postgres/sqlOnce.ts';
import { NODE_CONF, nodeConfText, replicationToolEnv, REPLICATION_USER, slotName } from '../postgres/standbyConf.ts';
import type { Log } from '../log.ts';
import { chooseCloneSource } from '../domain/cloneSource.ts';
import { sql } from '../postgres/pgSql.ts';
import { peerTarget } from '../postgres/peerLogin.ts';
import { readCloneView } from './cloneView.ts';
import type { BootstrapConfig } from './bootstrapConfig.ts';
import { resolveCa } from './caSource.ts';
import { hbaText, identText } from './hbaConf.ts';
import { hostFiles, replicationAuthOf } from './hostFiles.ts';
import { resolvePassword } from './hostSecrets.ts';
import { peerRole } from './peerRole.ts';
import { ensureRoles, prepareHost } from './prepareHost.ts';
import { MONITOR_USER } from './roles.ts';
import { CLUSTER_CONF, hostNodeSettings, includeLines, serverConfText, standbyAutoConfText } from './serverConf.ts';

/** What the bootstrap needs of the agent's config: the fields it shares with the agent. */
export interface BootstrapTarget {
  cluster: string;
  node: string;
  dataDir: string;
  bindir: string;
  pgPort: number;
  bootstrap: BootstrapConfig;
}

export type BootstrapOutcome =
  | { ok: true; did: 'initialised the primary' | 'joined as a standby' | 'configured'; from?: string; changed: string[] }
  | { ok: false; reason: string };


/**
 * Makes this host a node of its cluster, safe to run on every boot (systemd's ExecStartPre):
 * the TLS files, passwords and passfile, then the data directory. With one, it rewrites only the
 * configuration files that differ and leaves the server as it is (starting or stopping an
 * existing node is the control plane's call: it may be a deposed primary). Without one: the
 * first peer initialises the primary when no peer answers as primary; any other copies a
 * healthy streaming standby when one can be spared, else the primary (lib/domain/cloneSource.ts),
 * and starts as the primary's standby. synchronous_standby_names is the agent's (ALTER SYSTEM).
 */
export async function bootstrapHost(t: BootstrapTarget, osUser: OsUser | null, log: Log): Promise<BootstrapOutcome> {
  const b = t.bootstrap;
  const files = hostFiles(b.hostDir);
  const first = b.peers[0]?.name === t.node;
  try {
    const ca = await resolveCa({ ca: b.ca, cluster: t.cluster, hostDir: b.hostDir, first, waitMs: b.waitForPrimaryMs });
    const passwords = { monitor: await resolvePassword(b.passwords.monitor), replication: await resolvePassword(b.passwords.replication) };
    // The certificate names every address the cluster knows this node by: the probe checks the name (verify-full).
    const addresses = [...new Set([b.address, ...b.peers.filter((p) => p.name === t.node).map((p) => p.host)])];
    await prepareHost({ files, name: t.node, addresses, ca, osUser, passwords });
    const pg = new PgServer({ dataDir: t.dataDir, bindir: t.bindir, host: files.socketDir, port: t.pgPort, osUser, log, toolEnv: replicationToolEnv(replicationAuthOf(files)) });
    const confs = configFiles(t, osUser);
    const marker = `${t.dataDir}.bootstrapping`;
    // A copy or initdb that died half-way leaves the marker: its directory is ours to redo.
    if (existsSync(marker)) await rm(t.dataDir, { recursive: true, force: true });
    if (existsSync(join(t.dataDir, 'PG_VERSION'))) {
      const changed = await writeConfs(t.dataDir, confs, osUser);
      const running = (await pg.postmasterPid()) !== null;
      if (changed.length > 0 && running) await pg.sql('SELECT pg_reload_conf()');
      // A running primary takes the secrets' passwords (a rotation); equal ones change nothing.
      const [role] = running ? await sqlOnce<{ recovery: boolean }>(t.pgPort, 'SELECT pg_is_in_recovery() AS recovery', [], { host: files.socketDir }).catch(() => []) : [];
      if (role && !role.recovery && (await ensureRoles({ host: files.socketDir, port: t.pgPort }, passwords)) > 0) changed.push('role passwords');
      return { ok: true, did: 'configured', changed };
    }
    await mkdir(dirname(t.dataDir), { recursive: true });
    await writeFile(marker, `${process.pid}\n`);
    // Chain only, not names: a peer whose certificate lacks the name listed here must not look
    // unreachable, or the first peer would initialise a second primary beside the real one.
    const login = { user: MONITOR_USER, password: passwords.monitor, ssl: { mode: 'verify-ca' as const, ca: await readFile(files.caCert, 'utf8') } };
    const others = b.peers.filter((p) => p.name !== t.node);
    const deadline = Date.now() + b.waitForPrimaryMs;
    for (;;) {
      const roles = await Promise.all(others.map(async (p) => ({ p, role: await peerRole(p, login) })));
      const primary = roles.find((r) => r.role === 'primary')?.p;
      if (primary) {
        const view = await readCloneView(primary, roles.map((r) => ({ name: r.p.name, role: r.role })), login);
        const choice = chooseCloneSource(view);
        log({ level: 'info', msg: 'clone source', source: choice.source, upstream: choice.upstream, why: choice.why });
        const source = others.find((p) => p.name === choice.source) ?? primary;
        let r = await joinAsStandby(t, pg, source, primary, confs, osUser);
        // A standby promoted or stopped under the copy fails it (pg_basebackup's documented
        // limit): the primary is still there to copy, now rather than at systemd's next retry.
        if (!r.ok && source !== primary) {
          log({ level: 'warn', msg: 'copy from a standby failed: copying the primary', source: source.name, reason: r.reason });
          r = await joinAsStandby(t, pg, primary, primary, confs, osUser);
          if (r.ok) r = { ...r, from: primary.name };
        }
        if (!r.ok) return r;
        await rm(marker, { force: true });
        return { ok: true, did: 'joined as a standby', from: r.from ?? source.name, changed: ['data directory'] };
      }
      if (first && roles.every((r) => r.role === 'unreachable')) {
        const r = await initPrimary(t, pg, confs, osUser, passwords, files.socketDir);
        if (!r.ok) return r;
        await rm(marker, { force: true });
        return { ok: true, did: 'initialised the primary', changed: ['data directory'] };
      }
      if (Date.now() > deadline) {
        return { ok: false, reason: `no peer answers as primary (${roles.map((r) => `${r.p.name}: ${r.role}`).join(', ')}): bootstrap ${b.peers[0]?.name} first, or check the peers' addresses and the clientCidrs` };
      }
      log({ level: 'info', msg: 'waiting for a primary to copy from', peers: roles.map((r) => `${r.p.name}: ${r.role}`).join(', ') });
      await new Promise((r) => setTimeout(r, 1_000));
    }
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

type Confs = Record<string, string>;

/** Every file the bootstrap owns in a data directory, by name. */
function configFiles(t: BootstrapTarget, osUser: OsUser | null): Confs {
  const b = t.bootstrap;
  const files = hostFiles(b.hostDir);
  return {
    'pg_hba.conf': hbaText({ clientCidrs: b.clientCidrs, superuser: 'socket-peer' }),
    'pg_ident.conf': identText(osUser?.name ?? userInfo().username),
    [CLUSTER_CONF]: serverConfText({
      listenAddresses: '*',
      unixSocketDirectories: 'node',
      tls: 'node',
      walReceiverTimeoutMs: b.walReceiverTimeoutMs,
      // The starting value only: the agent keeps the spec's (ALTER SYSTEM wins over this file).
      synchronousStandbyNames: '',
      sizing: 'host',
      ...(b.archiveCommand ? { archiveCommand: b.archiveCommand } : {}),
    }),
    [NODE_CONF]: nodeConfText({ name: t.node, port: t.pgPort }, hostNodeSettings(files)),
  };
}

/** Writes the files that differ (and the include lines once); answers their names. */
async function writeConfs(dataDir: string, confs: Confs, osUser: OsUser | null): Promise<string[]> {
  const changed: string[] = [];
  for (const [name, text] of Object.entries(confs)) {
    const path = join(dataDir, name);
    const now = await readFile(path, 'utf8').catch(() => null);
    if (now === text) continue;
    await writeFile(path, text, { mode: 0o600 });
    if (osUser) await chown(path, osUser.uid, osUser.gid);
    changed.push(name);
  }
  const main = join(dataDir, 'postgresql.conf');
  const text = await readFile(main, 'utf8');
  if (!text.includes(`include_if_exists = '${CLUSTER_CONF}'`)) {
    await writeFile(main, text + includeLines());
    changed.push('postgresql.conf');
  }
  return changed;
}

async function initPrimary(
  t: BootstrapTarget,
  pg: PgServer,
  confs: Confs,
  osUser: OsUser | null,
  passwords: { monitor: string; replication: string },
  socketDir: string,
): Promise<BootstrapOutcome> {
  await rm(t.dataDir, { recursive: true, force: true });
  await mkdir(t.dataDir, { mode: 0o700 });
  if (osUser) await chown(t.dataDir, osUser.uid, osUser.gid);
  // Data checksums so pg_rewind works; no password auth until the roles exist (our pg_hba replaces initdb's).
  const init = await runPg(t.bindir, 'initdb', ['-D', t.dataDir, '-U', 'postgres', '--auth-local=peer', '--auth-host=reject', '--data-checksums', '--encoding=UTF8', '--locale=C'], { osUser, timeoutMs: 120_000 });
  if (!init.ok) return { ok: false, reason: `initdb: ${(init.stderr || init.stdout).trim()}` };
  await writeConfs(t.dataDir, confs, osUser);
  const started = await pg.start();
  if (!started.ok) return started;
  await ensureRoles({ host: socketDir, port: t.pgPort }, passwords);
  return { ok: true, did: 'initialised the primary', changed: [] };
}

type Peer = { name: string; host: string; port: number };

/**
 * Copies `source` (the primary, or a standby of it) into the data directory, by its host and
 * port, and starts it as a standby streaming from `primary` through this node's own slot there.
 */
async function joinAsStandby(t: BootstrapTarget, pg: PgServer, source: Peer, primary: Peer, confs: Confs, osUser: OsUser | null): Promise<BootstrapOutcome> {
  await rm(t.dataDir, { recursive: true, force: true });
  await mkdir(t.dataDir, { mode: 0o700 });
  if (osUser) await chown(t.dataDir, osUser.uid, osUser.gid);
  const slot = slotName(t.node);
  const auth = replicationAuthOf(hostFiles(t.bootstrap.hostDir));
  const fromPrimary = source.name === primary.name;
  if (!fromPrimary) {
    // pg_basebackup -C would make the slot on the standby it copies. It is made on the primary
    // first, WAL reserved from its last checkpoint, which the copy's end lies past when the
    // source lags little (the rule's lag limit): nothing the new standby will ask for is recycled.
    const made = await sql(
      peerTarget(primary, auth),
      `SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`,
      [slot],
      10_000,
    );
    if (!made.ok && !/already exists/.test(made.reason)) return { ok: false, reason: `creating slot ${slot} on ${primary.name}: ${made.reason}` };
  }
  // From the primary, the slot is made there as the copy starts (-C), so no WAL the standby needs is recycled meanwhile.
  const args = ['-h', source.host, '-p', String(source.port), '-U', REPLICATION_USER, '-D', t.dataDir, '-X', 'stream', '-c', 'fast', ...(fromPrimary ? ['-S', slot] : [])];
  let copy = await pg.run('pg_basebackup', fromPrimary ? [...args, '-C'] : args, 30 * 60_000);
  // A slot of that name left by an earlier attempt: copy through it as it is.
  if (fromPrimary && !copy.ok && /already exists/.test(copy.stderr)) {
    await rm(t.dataDir, { recursive: true, force: true });
    await mkdir(t.dataDir, { mode: 0o700 });
    if (osUser) await chown(t.dataDir, osUser.uid, osUser.gid);
    copy = await pg.run('pg_basebackup', args, 30 * 60_000);
  }
  if (!copy.ok) return { ok: false, reason: `pg_basebackup from ${source.name} (${source.host}:${source.port}): ${(copy.stderr || copy.stdout).trim()}` };
  await rm(join(t.dataDir, 'log'), { recursive: true, force: true });
  await writeConfs(t.dataDir, confs, osUser);
  // The copy of a standby carries its standby.signal and primary_conninfo; both are ours to write.
  const auto = standbyAutoConfText(primary, t.node, slot, auth);
  await writeFile(join(t.dataDir, 'postgresql.auto.conf'), auto, { mode: 0o600 });
  await writeFile(join(t.dataDir, 'standby.signal'), '', { mode: 0o600 });
  if (osUser) for (const f of ['postgresql.auto.conf', 'standby.signal']) await chown(join(t.dataDir, f), osUser.uid, osUser.gid);
  const started = await pg.start();
  if (!started.ok) return started;
  return { ok: true, did: 'joined as a standby', from: source.name, changed: [] };
}
