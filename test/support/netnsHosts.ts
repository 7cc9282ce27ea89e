import { chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runPg } from '../../lib/postgres/pgCommand.ts';
import { isPostmasterOf, readPostmasterPid, waitGone, writeOwnedFile, appendOwnedFile } from '../../lib/postgres/nodeFiles.ts';
import type { OsUser } from '../../lib/postgres/osUser.ts';
import { NODE_CONF, REPLICATION_USER, nodeConfText, slotName } from '../../lib/postgres/standbyConf.ts';
import { CLUSTER_CONF, clusterConfText, includeLines, standbyAutoConfText } from '../../lib/local/pgConf.ts';
import { synchronousStandbyNames } from '../../lib/domain/syncNames.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import type { LabHost, NetnsLab } from './netns.ts';
import type { ReplicationSpec } from '../../lib/domain/spec.ts';

export const PG_PORT = 5432;

export interface NsNode {
  name: string;
  host: LabHost;
  /** The host's own directory: the data directory, and the unix socket beside it. */
  dir: string;
  dataDir: string;
}

export interface NsCluster {
  nodes: NsNode[];
  node(name: string): NsNode;
  /** Start the postmaster inside the host's namespace, as its OS user. */
  start(name: string): Promise<void>;
  /** SIGKILL the postmaster, as a host losing power would (its children notice and exit). */
  kill(name: string): Promise<void>;
  /** Stop every postmaster still running (immediate, then SIGKILL). */
  stopAll(): Promise<void>;
}

export interface NsClusterOptions {
  lab: NetnsLab;
  workDir: string;
  bindir: string;
  osUser: OsUser;
  /** First is the primary. */
  names: string[];
  walReceiverTimeoutMs: number;
  /** synchronous_standby_names follows it (default: synchronous, ANY 1 of every node). */
  replication?: ReplicationSpec;
}

/**
 * PostgreSQL on each lab host, listening on all its addresses at 5432 (each namespace has its
 * own stack). The namespaces share the filesystem, so each server's unix socket lives in its
 * own host directory: `unix_socket_directories = '..'` is relative to the data directory, the
 * same line on every node yet a different place for each. pg_hba trusts the lab subnet: TEST ONLY.
 */
export async function createNsCluster(o: NsClusterOptions): Promise<NsCluster> {
  const nodes: NsNode[] = o.names.map((name) => {
    const dir = join(o.workDir, name);
    return { name, host: o.lab.host(name), dir, dataDir: join(dir, 'data') };
  });
  const node = (name: string): NsNode => {
    const n = nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  };
  const cluster: NsCluster = {
    nodes,
    node,
    async start(name) {
      const n = node(name);
      // runuser: PostgreSQL refuses root; `ip netns exec` needs it, so the switch comes after.
      const r = await o.lab.exec(name, 'runuser', ['-u', o.osUser.name, '--', join(o.bindir, 'pg_ctl'), 'start', '-w', '-t', '60', '-D', n.dataDir, '-l', join(n.dir, 'postmaster.log')], {
        timeoutMs: 70_000,
        cwd: o.osUser.home,
      });
      if (!r.ok) throw new Error(`pg_ctl start ${name} in ${n.host.ns}: ${r.stderr.trim() || r.stdout.trim()}`);
    },
    async kill(name) {
      const n = node(name);
      const pid = await readPostmasterPid(n.dataDir);
      if (pid === null || !isPostmasterOf(pid, n.dataDir)) return;
      process.kill(pid, 'SIGKILL');
      await waitGone(pid, 5_000);
    },
    async stopAll() {
      await Promise.all(
        nodes.map(async (n) => {
          const pid = await readPostmasterPid(n.dataDir);
          if (pid === null || !isPostmasterOf(pid, n.dataDir)) return;
          await runPg(o.bindir, 'pg_ctl', ['stop', '-w', '-t', '10', '-m', 'immediate', '-D', n.dataDir], { osUser: o.osUser, timeoutMs: 15_000 });
          if (isPostmasterOf(pid, n.dataDir)) {
            process.kill(pid, 'SIGKILL');
            await waitGone(pid, 5_000);
          }
        }),
      );
    },
  };

  try {
    await bringUp(cluster, o);
  } catch (e) {
    await cluster.stopAll();
    throw e;
  }
  return cluster;
}

async function bringUp(cluster: NsCluster, o: NsClusterOptions): Promise<void> {
  const [primary, ...standbys] = cluster.nodes;
  if (!primary) throw new Error('no nodes');
  const { osUser, bindir } = o;
  const pgRun = async (tool: string, args: string[]) => {
    const r = await runPg(bindir, tool, args, { osUser, timeoutMs: 60_000 });
    if (!r.ok) throw new Error(`${tool}: ${r.stderr.trim() || r.stdout.trim()}`);
  };
  const subnet = `${o.lab.gateway.split('.').slice(0, 3).join('.')}.0/24`;
  const hba = [
    '# pgvigil VIP TEST ONLY: trust on loopback and the lab subnet',
    'host all all 127.0.0.1/32 trust',
    'host replication all 127.0.0.1/32 trust',
    `host all all ${subnet} trust`,
    `host replication all ${subnet} trust`,
    '',
  ].join('\n');
  const conf = (sync: string) =>
    clusterConfText({
      synchronousStandbyNames: sync,
      walReceiverTimeoutMs: o.walReceiverTimeoutMs,
      // Later lines win: every address of the host, and the socket beside the data directory.
      extraConf: { listen_addresses: '*', unix_socket_directories: '..' },
    });

  await mkdir(o.workDir, { recursive: true, mode: 0o700 });
  await chown(o.workDir, osUser.uid, osUser.gid);
  for (const n of cluster.nodes) {
    await mkdir(n.dir, { mode: 0o700 });
    await chown(n.dir, osUser.uid, osUser.gid);
  }

  await pgRun('initdb', ['-D', primary.dataDir, '-U', 'postgres', '--auth=trust', '--data-checksums', '--encoding=UTF8', '--locale=C', '--no-sync']);
  await writeOwnedFile(join(primary.dataDir, 'pg_hba.conf'), hba, osUser);
  await writeOwnedFile(join(primary.dataDir, CLUSTER_CONF), conf(''), osUser);
  await writeOwnedFile(join(primary.dataDir, NODE_CONF), nodeConfText({ name: primary.name, port: PG_PORT }), osUser);
  await appendOwnedFile(join(primary.dataDir, 'postgresql.conf'), includeLines(), osUser);
  await cluster.start(primary.name);
  const primaryAt = { host: primary.host.address, port: PG_PORT };
  await sqlOnce(PG_PORT, `CREATE ROLE ${REPLICATION_USER} WITH REPLICATION LOGIN`, [], { host: primaryAt.host });

  // Copied over the lab network from the root namespace, through the bridge.
  await Promise.all(
    standbys.map(async (s) => {
      await pgRun('pg_basebackup', ['-h', primaryAt.host, '-p', String(PG_PORT), '-U', REPLICATION_USER, '-D', s.dataDir, '-X', 'stream', '-C', '-S', slotName(s.name), '-c', 'fast', '--no-sync']);
      await rm(join(s.dataDir, 'log'), { recursive: true, force: true });
      await writeOwnedFile(join(s.dataDir, NODE_CONF), nodeConfText({ name: s.name, port: PG_PORT }), osUser);
      await writeOwnedFile(join(s.dataDir, 'postgresql.auto.conf'), standbyAutoConfText(primaryAt, s.name), osUser);
      await writeOwnedFile(join(s.dataDir, 'standby.signal'), '', osUser);
    }),
  );

  const sync = synchronousStandbyNames(o.replication ?? { mode: 'synchronous', quorum: 1 }, cluster.nodes.map((n) => n.name));
  await Promise.all(cluster.nodes.map((n) => writeOwnedFile(join(n.dataDir, CLUSTER_CONF), conf(sync), osUser)));
  await sqlOnce(PG_PORT, 'SELECT pg_reload_conf()', [], { host: primaryAt.host });
  for (const s of standbys) await cluster.start(s.name);
  await waitStreaming(primaryAt.host, standbys.map((s) => s.name), sync !== '');
}

/** Until the primary lists every standby as streaming, and (when `synchronous`) synchronous_standby_names is in force. */
async function waitStreaming(host: string, names: string[], synchronous: boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await sqlOnce<{ name: string }>(PG_PORT, "SELECT application_name AS name FROM pg_stat_replication WHERE state = 'streaming'", [], { host }).catch(() => []);
    const [sync] = await sqlOnce<{ s: string }>(PG_PORT, "SELECT current_setting('synchronous_standby_names') AS s", [], { host }).catch(() => []);
    const missing = names.filter((n) => !rows.some((r) => r.name === n));
    if (missing.length === 0 && (!synchronous || sync?.s)) return;
    if (Date.now() > deadline) throw new Error(`standbys not streaming from ${host} within ${timeoutMs} ms: ${missing.join(', ') || 'synchronous_standby_names not in force'}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
