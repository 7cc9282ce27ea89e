import { existsSync } from 'node:fs';
import { chown, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { editAutoConf } from '../postgres/autoConf.ts';
import { runPg } from '../postgres/pgCommand.ts';
import { parseWith } from '../domain/parse.ts';
import { NodeName } from '../domain/spec.ts';
import { loadState } from '../store/loadState.ts';
import { closeStore, createStore } from '../store/store.ts';
import { findFreePort, isPortFree } from '../postgres/freePort.ts';
import { readLocalWorkDir } from './localWorkDir.ts';
import { isPostmasterOf, readPostmasterPid, waitGone, writeOwnedFile } from '../postgres/nodeFiles.ts';
import { ensurePgOsUser, type OsUser } from '../postgres/osUser.ts';
import { findPgBinaries } from '../postgres/pgBinaries.ts';
import { NODE_CONF, REPLICATION_USER, nodeConfText, replicationToolEnv } from '../postgres/standbyConf.ts';
import { replicationAuthOf } from '../host/hostFiles.ts';
import { localHostFiles } from './localHostFiles.ts';
import { sqlOnce } from '../postgres/sqlOnce.ts';
import { chooseStandbySource } from './standbySource.ts';

export interface DevCloneOptions {
  /** The work dir of a running `pgvigil up`. */
  workDir: string;
  cluster?: string;
  name: string;
  /** The standby to copy; default: the first streaming standby. Never the primary. */
  from?: string;
  /** Default: a free port chosen by the OS. */
  port?: number;
  onProgress?: (step: string) => void;
}

export type DevCloneOutcome =
  | { ok: true; name: string; dataDir: string; port: number; source: string; connectionString: string; ms: number }
  | { ok: false; reason: string };

export const clonesDir = (workDir: string): string => join(workDir, 'clones');

/**
 * `pgvigil clone`: a writable copy of the cluster for testing or development. Copied with
 * pg_basebackup from a standby (the primary serves no backup), started on its own port as a
 * standby of nothing, then promoted onto a timeline of its own. It is never registered, so
 * it is never probed, never in the endpoints and never a failover candidate; and its
 * synchronous_standby_names is cleared so its commits wait for no one.
 */
export async function createDevClone(o: DevCloneOptions): Promise<DevCloneOutcome> {
  const started = Date.now();
  const progress = o.onProgress ?? (() => {});
  const name = parseWith(NodeName, o.name, `--name ${o.name}`);
  if (!name.ok) return name;
  const files = readLocalWorkDir(o.workDir);
  if (!files.ok) return files;
  const { workDir, storeConfig } = files.value;
  const cluster = o.cluster ?? 'local';
  const store = createStore(storeConfig, () => {});
  let spec;
  let primary;
  try {
    const loaded = await loadState(store, cluster);
    if (!loaded.ok) return { ok: false, reason: `the store does not answer (${loaded.reason}): is pgvigil up running?` };
    ({ spec, primary } = loaded.state);
  } finally {
    closeStore(store);
  }
  if (spec === null) return { ok: false, reason: `cluster ${cluster} is not initialized: start it with pgvigil up` };
  if (spec.nodes.some((n) => n.name === o.name)) return { ok: false, reason: `--name ${o.name} is a node of the cluster: give the clone a name of its own` };
  const dataDir = join(clonesDir(workDir), o.name);
  if (existsSync(dataDir)) return { ok: false, reason: `a clone named ${o.name} exists (${dataDir}): drop it with pgvigil clone --name ${o.name} --drop, or pick another name` };
  const port = o.port ?? (await findFreePort());
  if (spec.nodes.some((n) => n.port === port) || !(await isPortFree(port))) return { ok: false, reason: `port ${port} is in use: pass another --port` };

  const source = await chooseStandbySource(spec, primary, o.from);
  if (!source.ok) return source;
  const bins = findPgBinaries();
  if (!bins.ok) return bins;
  const osUser = ensurePgOsUser();
  const env = replicationToolEnv(replicationAuthOf(localHostFiles(workDir)));
  const pg = (tool: string, args: string[], timeoutMs = 60_000) => runPg(bins.bindir, tool, args, { osUser, timeoutMs, env });

  await mkdir(clonesDir(workDir), { recursive: true, mode: 0o700 });
  await mkdir(dataDir, { mode: 0o700 });
  if (osUser) {
    await chown(clonesDir(workDir), osUser.uid, osUser.gid);
    await chown(dataDir, osUser.uid, osUser.gid);
  }
  const failed = async (reason: string): Promise<DevCloneOutcome> => {
    await stopServer(bins.bindir, dataDir, osUser);
    await rm(dataDir, { recursive: true, force: true });
    return { ok: false, reason };
  };

  progress(`copying ${source.node.name} into ${dataDir} (pg_basebackup from the standby)`);
  const copy = await pg(
    'pg_basebackup',
    ['-h', source.node.host, '-p', String(source.node.port), '-U', REPLICATION_USER, '-D', dataDir, '-X', 'stream', '-c', 'fast', '--no-sync'],
    30 * 60_000,
  );
  if (!copy.ok) return failed(`pg_basebackup from ${source.node.name}: ${copy.stderr.trim() || copy.stdout.trim()}`);

  // The copy carries its source's identity: give it its own port and name, and cut every tie to the cluster.
  await rm(join(dataDir, 'log'), { recursive: true, force: true });
  await writeOwnedFile(
    join(dataDir, NODE_CONF),
    `${nodeConfText({ name: o.name, port })}# a development clone: outside the cluster, commits wait for no standby\nsynchronous_standby_names = ''\narchive_mode = off\n`,
    osUser,
  );
  const auto = (await readFile(join(dataDir, 'postgresql.auto.conf'), 'utf8').catch(() => '')) ?? '';
  await writeOwnedFile(join(dataDir, 'postgresql.auto.conf'), editAutoConf(auto, { primary_conninfo: null, primary_slot_name: null }), osUser);
  // Started as a standby of nothing, then promoted: it ends recovery on a timeline of its own.
  await writeOwnedFile(join(dataDir, 'standby.signal'), '', osUser);

  progress(`starting it on port ${port} and promoting it`);
  const start = await pg('pg_ctl', ['start', '-w', '-t', '60', '-D', dataDir, '-l', join(dataDir, 'postmaster.log')], 70_000);
  if (!start.ok) return failed(`pg_ctl start: ${start.stderr.trim() || start.stdout.trim()}`);
  const promote = await pg('pg_ctl', ['promote', '-w', '-t', '60', '-D', dataDir], 70_000);
  if (!promote.ok) return failed(`pg_ctl promote: ${promote.stderr.trim() || promote.stdout.trim()}`);
  const rows = await sqlOnce<{ recovery: boolean }>(port, 'SELECT pg_is_in_recovery() AS recovery').catch(() => []);
  if (rows[0]?.recovery !== false) return failed('the clone did not leave recovery after promotion: see its postmaster.log');
  return {
    ok: true,
    name: o.name,
    dataDir,
    port,
    source: source.node.name,
    connectionString: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    ms: Date.now() - started,
  };
}

/** Stops a clone's server and removes its data directory. */
export async function dropDevClone(workDirArg: string, name: string): Promise<{ ok: true; existed: boolean } | { ok: false; reason: string }> {
  const valid = parseWith(NodeName, name, `--name ${name}`);
  if (!valid.ok) return valid;
  const files = readLocalWorkDir(workDirArg);
  if (!files.ok) return files;
  const dataDir = join(clonesDir(files.value.workDir), name);
  if (!existsSync(dataDir)) return { ok: true, existed: false };
  const bins = findPgBinaries();
  if (!bins.ok) return bins;
  const stopped = await stopServer(bins.bindir, dataDir, ensurePgOsUser());
  if (!stopped) return { ok: false, reason: `the clone's server (${dataDir}) did not stop: stop it with pg_ctl stop -D ${dataDir}` };
  await rm(dataDir, { recursive: true, force: true });
  return { ok: true, existed: true };
}

/** pg_ctl stop fast, then immediate; true once no postmaster of the data dir runs. */
async function stopServer(bindir: string, dataDir: string, osUser: OsUser | null): Promise<boolean> {
  const pid = await readPostmasterPid(dataDir);
  if (pid === null || !isPostmasterOf(pid, dataDir)) return true;
  for (const mode of ['fast', 'immediate']) {
    await runPg(bindir, 'pg_ctl', ['stop', '-w', '-t', '30', '-m', mode, '-D', dataDir], { osUser, timeoutMs: 40_000 });
    if (await waitGone(pid, 5_000)) return true;
  }
  return false;
}
