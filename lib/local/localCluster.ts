import { existsSync } from 'node:fs';
import { chown, mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { parseWith } from '../domain/parse.ts';
import { NodeName, NodeTags, type NodeSpec, type ReplicationSpec } from '../domain/spec.ts';
import { runPg, type PgCommandResult } from '../postgres/pgCommand.ts';
import { findPgBinaries } from '../postgres/pgBinaries.ts';
import { ensurePgOsUser, type OsUser } from '../postgres/osUser.ts';
import { NODE_CONF, REPLICATION_USER, nodeConfText, replicationToolEnv, slotName } from '../postgres/standbyConf.ts';
import { CLUSTER_CONF, clusterConfText, includeLines, localHbaText, standbyAutoConfText } from './pgConf.ts';
import { replicationAuthOf, type HostFiles } from '../host/hostFiles.ts';
import { localHostFiles } from './localHostFiles.ts';
import { ensureRoles, prepareHost } from '../host/prepareHost.ts';
import { ensureCa } from '../host/clusterTls.ts';
import { synchronousStandbyNames } from '../domain/syncNames.ts';
import { appendOwnedFile, isPostmasterOf, readPostmasterPid, waitGone, writeOwnedFile } from '../postgres/nodeFiles.ts';
import { sqlOnce } from '../postgres/sqlOnce.ts';

export interface LocalNode {
  name: string;
  host: '127.0.0.1';
  port: number;
  dataDir: string;
}

export type StopMode = 'smart' | 'fast' | 'immediate';
export type NodeResult = { ok: true } | { ok: false; reason: string };

export interface LocalCluster {
  nodes: LocalNode[];
  bindir: string;
  osUser: OsUser | null;
  workDir: string;
  /** This machine's TLS files and passwords, as a host bootstrap lays them out (lib/host). */
  files: HostFiles;
  connectionString(name: string, db?: string): string;
  postmasterPid(name: string): Promise<number | null>;
  start(name: string): Promise<NodeResult>;
  stop(name: string, mode?: StopMode): Promise<NodeResult>;
  /** Stops every node, escalating to immediate and then SIGKILL of the postmaster; idempotent. */
  stopAll(): Promise<void>;
  /** Waits until every standby among `names` (default: all nodes) streams; throws with what is missing at the deadline. */
  waitStreaming(opts?: { names?: string[]; timeoutMs?: number }): Promise<void>;
  /** NodeSpec inputs for a ClusterSpec; agent URLs from agentPorts, default port + 1000. */
  specNodes(agentPorts?: Record<string, number>): NodeSpec[];
}

export interface LocalClusterOptions {
  workDir: string;
  basePort: number;
  names?: string[];
  replication: ReplicationSpec;
  walReceiverTimeoutMs?: number;
  /** undefined: ensurePgOsUser() decides; null: run as ourselves. */
  osUser?: OsUser | null;
  extraConf?: Record<string, string>;
  tags?: Record<string, z.input<typeof NodeTags>>;
}

const Options = z.object({
  workDir: z.string().min(1, 'give a work directory for the data'),
  basePort: z.number().int().min(1024).max(65000),
  names: z.array(NodeName).min(1, 'list at least one node name').refine((n) => new Set(n).size === n.length, 'node names must be unique'),
  walReceiverTimeoutMs: z.number().int().min(100),
});

/**
 * Brings up a primary and streaming standbys on 127.0.0.1 (first name is the primary).
 * Throws on failure after stopping whatever it started: a cluster half up is of no use.
 */
export async function createLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const names = options.names ?? ['pg1', 'pg2', 'pg3'];
  const walReceiverTimeoutMs = options.walReceiverTimeoutMs ?? 3_000;
  const parsed = parseWith(Options, { workDir: options.workDir, basePort: options.basePort, names, walReceiverTimeoutMs }, 'local cluster options');
  if (!parsed.ok) throw new Error(parsed.reason);
  const bins = findPgBinaries();
  if (!bins.ok) throw new Error(bins.reason);
  const osUser = options.osUser === undefined ? ensurePgOsUser() : options.osUser;
  const tags = Object.fromEntries(names.map((n) => [n, NodeTags.parse(options.tags?.[n] ?? {})]));
  // Absolute: tools run with the OS user's home as their working directory.
  const workDir = resolve(options.workDir);
  const nodes: LocalNode[] = names.map((name, i) => ({ name, host: '127.0.0.1', port: options.basePort + i, dataDir: join(workDir, name) }));
  const cluster = makeCluster(nodes, bins.bindir, osUser, workDir, tags);
  try {
    await bringUp(cluster, { ...options, workDir }, walReceiverTimeoutMs, tags);
  } catch (e) {
    await cluster.stopAll();
    throw e;
  }
  return cluster;
}

export interface OpenLocalClusterOptions {
  workDir: string;
  basePort: number;
  names: string[];
  osUser: OsUser | null;
  /** The primary by the decision log: started along with every standby. */
  primary: string | null;
  tags?: Record<string, z.input<typeof NodeTags>>;
  /** Told, in words, of each server a previous run left running: adopted, or stopped when it may not run. */
  onLeftRunning?: (note: string) => void;
}

/**
 * Attaches to the data directories a previous run left and starts the log's primary and
 * every standby; one left running (its `up` died) is adopted as it is. Any other node
 * stays stopped, and is stopped if it was left running: it may be a deposed primary, which
 * must not come back as a primary; the control plane rewinds it.
 */
export async function openLocalCluster(options: OpenLocalClusterOptions): Promise<LocalCluster> {
  const bins = findPgBinaries();
  if (!bins.ok) throw new Error(bins.reason);
  const workDir = resolve(options.workDir);
  const tags = Object.fromEntries(options.names.map((n) => [n, NodeTags.parse(options.tags?.[n] ?? {})]));
  const nodes: LocalNode[] = options.names.map((name, i) => ({ name, host: '127.0.0.1', port: options.basePort + i, dataDir: join(workDir, name) }));
  const cluster = makeCluster(nodes, bins.bindir, options.osUser, workDir, tags);
  try {
    for (const n of nodes) {
      if (!existsSync(join(n.dataDir, 'PG_VERSION'))) throw new Error(`${n.dataDir} holds no PostgreSQL data directory: remove the work dir to start afresh`);
      const standby = existsSync(join(n.dataDir, 'standby.signal'));
      const pid = await cluster.postmasterPid(n.name);
      // A pid file left by a crash names a dead (or reused) pid: only a live postmaster of this data dir counts.
      const running = pid !== null && isPostmasterOf(pid, n.dataDir);
      if (!standby && n.name !== options.primary) {
        if (running) {
          must('stop', await cluster.stop(n.name));
          options.onLeftRunning?.(`stopped ${n.name} (left running, pid ${pid}, but neither the log's primary nor a standby: the control plane rewinds it)`);
        }
        continue;
      }
      if (running) {
        options.onLeftRunning?.(`adopted ${n.name} (already running, pid ${pid})`);
        continue;
      }
      must('start', await cluster.start(n.name));
    }
  } catch (e) {
    await cluster.stopAll();
    throw e;
  }
  return cluster;
}

async function bringUp(
  cluster: LocalCluster,
  options: LocalClusterOptions,
  walReceiverTimeoutMs: number,
  tags: Record<string, z.infer<typeof NodeTags>>,
): Promise<void> {
  const { bindir, osUser, nodes } = cluster;
  const [primary, ...standbys] = nodes;
  if (!primary) throw new Error('no nodes');
  const { files } = cluster;
  const auth = replicationAuthOf(files);
  const pgRun = async (tool: string, args: string[], timeoutMs = 60_000) =>
    must(tool, await runPg(bindir, tool, args, { osUser, timeoutMs, env: replicationToolEnv(auth) }));

  await mkdir(options.workDir, { recursive: true, mode: 0o700 });
  if (osUser) await chown(options.workDir, osUser.uid, osUser.gid);
  // The same roles, pg_hba and TLS as a host (lib/host): local mode is one host at 127.0.0.1.
  const ca = await ensureCa(files.dir, 'local');
  const { passwords } = await prepareHost({ files, name: 'localhost', addresses: ['127.0.0.1', 'localhost'], ca, osUser });

  // --no-sync: a throwaway local cluster; data checksums so pg_rewind works.
  await pgRun('initdb', ['-D', primary.dataDir, '-U', 'postgres', '--auth=trust', '--data-checksums', '--encoding=UTF8', '--locale=C', '--no-sync']);
  const conf = (sync: string) => clusterConfText({ synchronousStandbyNames: sync, walReceiverTimeoutMs, files, ...(options.extraConf ? { extraConf: options.extraConf } : {}) });
  await writeOwnedFile(join(primary.dataDir, 'pg_hba.conf'), localHbaText(), osUser);
  // Commits would wait for standbys that don't exist yet: synchronous names are set once they are built.
  await writeOwnedFile(join(primary.dataDir, CLUSTER_CONF), conf(''), osUser);
  await writeOwnedFile(join(primary.dataDir, NODE_CONF), nodeConfText(primary), osUser);
  await appendOwnedFile(join(primary.dataDir, 'postgresql.conf'), includeLines(), osUser);
  must('start', await cluster.start(primary.name));
  await ensureRoles(primary, passwords);

  await Promise.all(
    standbys.map(async (s) => {
      await pgRun('pg_basebackup', [
        '-h', primary.host, '-p', String(primary.port), '-U', REPLICATION_USER, '-D', s.dataDir,
        '-X', 'stream', '-C', '-S', slotName(s.name), '-c', 'fast', '--no-sync',
      ]);
      await rm(join(s.dataDir, 'log'), { recursive: true, force: true });
      await writeOwnedFile(join(s.dataDir, NODE_CONF), nodeConfText(s), osUser);
      await writeOwnedFile(join(s.dataDir, 'postgresql.auto.conf'), standbyAutoConfText(primary, s.name, slotName(s.name), auth), osUser);
      await writeOwnedFile(join(s.dataDir, 'standby.signal'), '', osUser);
    }),
  );

  const syncNames = synchronousStandbyNames(
    options.replication,
    // Every node, the primary too: a server never counts itself, so the same list stays right
    // on whichever node is promoted later, and a rejoined old primary counts towards the quorum.
    nodes.filter((s) => !tags[s.name]?.nosync).map((s) => s.name),
  );
  await Promise.all(nodes.map((n) => writeOwnedFile(join(n.dataDir, CLUSTER_CONF), conf(syncNames), osUser)));
  await sqlOnce(primary.port, 'SELECT pg_reload_conf()');
  for (const r of await Promise.all(standbys.map((s) => cluster.start(s.name)))) must('start', r);
  await cluster.waitStreaming();
  if (syncNames) {
    await waitSetting(primary.port, 'synchronous_standby_names', syncNames);
    await waitSyncCandidates(primary.port, standbys.filter((s) => !tags[s.name]?.nosync).map((s) => s.name));
  }
}

/**
 * A WAL receiver streams before the primary counts it: the walsender shows `async` until the
 * standby's first flush report. Ready means every candidate counts, so the first commit after
 * `up` is already protected by the quorum the user asked for.
 */
async function waitSyncCandidates(port: number, names: string[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await sqlOnce<{ application_name: string; sync_state: string }>(
      port,
      "SELECT application_name, sync_state FROM pg_stat_replication WHERE state = 'streaming'",
    );
    const counted = new Set(rows.filter((r) => r.sync_state !== 'async').map((r) => r.application_name));
    const missing = names.filter((n) => !counted.has(n));
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`the primary does not count ${missing.join(', ')} as synchronous candidates yet`);
    await delay(50);
  }
}

function must<T extends PgCommandResult | NodeResult>(what: string, r: T): T {
  if (!r.ok) {
    const detail = 'reason' in r ? r.reason : `${r.stderr.trim() || r.stdout.trim()} (exit ${r.code})`;
    throw new Error(`${what} failed: ${detail}`);
  }
  return r;
}

/** pg_reload_conf() only signals: wait until the primary really uses the new value. */
async function waitSetting(port: number, name: string, value: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await sqlOnce<{ setting: string }>(port, 'SELECT setting FROM pg_settings WHERE name = $1', [name]);
    if (rows[0]?.setting === value) return;
    if (Date.now() > deadline) throw new Error(`${name} is still "${rows[0]?.setting}" on port ${port}, expected "${value}"`);
    await delay(50);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function makeCluster(
  nodes: LocalNode[],
  bindir: string,
  osUser: OsUser | null,
  workDir: string,
  tags: Record<string, z.infer<typeof NodeTags>>,
): LocalCluster {
  const node = (name: string): LocalNode => {
    const n = nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name} in this local cluster (nodes: ${nodes.map((x) => x.name).join(', ')})`);
    return n;
  };
  const pgCtl = (args: string[], timeoutMs: number) => runPg(bindir, 'pg_ctl', args, { osUser, timeoutMs });

  const cluster: LocalCluster = {
    nodes,
    bindir,
    osUser,
    workDir,
    files: localHostFiles(workDir),
    connectionString: (name, db = 'postgres') => {
      const n = node(name);
      return `postgresql://postgres@${n.host}:${n.port}/${encodeURIComponent(db)}`;
    },
    postmasterPid: (name) => readPostmasterPid(node(name).dataDir),
    async start(name) {
      const n = node(name);
      // -l: the postmaster's early output goes to a file, not to our pipes.
      const r = await pgCtl(['start', '-w', '-t', '60', '-D', n.dataDir, '-l', join(n.dataDir, 'postmaster.log')], 70_000);
      return r.ok ? { ok: true } : { ok: false, reason: `pg_ctl start ${name}: ${r.stderr.trim() || r.stdout.trim()}` };
    },
    async stop(name, mode = 'fast') {
      const n = node(name);
      const pid = await readPostmasterPid(n.dataDir);
      if (pid === null || !isPostmasterOf(pid, n.dataDir)) return { ok: true };
      // A postmaster frozen by SIGSTOP (tests do that) would never answer pg_ctl.
      signal(pid, 'SIGCONT');
      const r = await pgCtl(['stop', '-w', '-t', '30', '-m', mode, '-D', n.dataDir], 40_000);
      // pg_ctl returns once postmaster.pid is gone; the process itself exits a moment later.
      if (await waitGone(pid, r.ok ? 5_000 : 0)) return { ok: true };
      return { ok: false, reason: `pg_ctl stop ${name}: ${r.stderr.trim() || r.stdout.trim()}` };
    },
    async stopAll() {
      await Promise.all(
        nodes.map(async (n) => {
          const pid = await readPostmasterPid(n.dataDir);
          if (pid === null || !isPostmasterOf(pid, n.dataDir)) return;
          const fast = await cluster.stop(n.name, 'fast').catch(() => ({ ok: false }));
          if (fast.ok) return;
          await cluster.stop(n.name, 'immediate').catch(() => {});
          if (isPostmasterOf(pid, n.dataDir)) {
            signal(pid, 'SIGKILL');
            await waitGone(pid, 5_000);
          }
        }),
      );
    },
    async waitStreaming(opts = {}) {
      const names = opts.names ?? nodes.map((n) => n.name);
      const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
      for (;;) {
        const missing: string[] = [];
        for (const name of names) {
          const why = await notStreaming(node(name).port);
          if (why) missing.push(`${name}: ${why}`);
        }
        if (missing.length === 0) return;
        if (Date.now() > deadline) throw new Error(`standbys not streaming: ${missing.join('; ')}`);
        await delay(100);
      }
    },
    specNodes(agentPorts = {}) {
      return nodes.map((n) => ({
        name: n.name,
        host: n.host,
        port: n.port,
        // HTTPS once the host files hold a certificate: local agents serve the channel with it (issue 15).
        agent: `${existsSync(cluster.files.serverCert) ? 'https' : 'http'}://127.0.0.1:${agentPorts[n.name] ?? n.port + 1000}`,
        tags: tags[n.name] ?? NodeTags.parse({}),
      }));
    },
  };
  return cluster;
}

/** Null when the node is a primary or a standby whose WAL receiver streams; else why not. */
async function notStreaming(port: number): Promise<string | null> {
  try {
    const rows = await sqlOnce<{ recovery: boolean; status: string | null }>(
      port,
      'SELECT pg_is_in_recovery() AS recovery, (SELECT status FROM pg_stat_wal_receiver) AS status',
      [],
      { timeoutMs: 2_000 },
    );
    const row = rows[0];
    if (!row || !row.recovery) return null;
    return row.status === 'streaming' ? null : `WAL receiver ${row.status ?? 'not running'}`;
  } catch (e) {
    return (e as Error).message;
  }
}
