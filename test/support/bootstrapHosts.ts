import { before, after } from 'node:test';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentConfigInput } from '../../lib/agent/agentConfig.ts';
import { hostFiles, type HostFiles } from '../../lib/host/hostFiles.ts';
import { runPg } from '../../lib/postgres/pgCommand.ts';
import { ensurePgOsUser, type OsUser } from '../../lib/postgres/osUser.ts';
import { findPgBinaries } from '../../lib/postgres/pgBinaries.ts';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** One would-be database host of a bootstrap test: its agent config file, as user data writes it. */
export interface BootstrapHost {
  name: string;
  address: string;
  port: number;
  dataDir: string;
  files: HostFiles;
  configPath: string;
}

/**
 * Agent configs with a `bootstrap` section for hosts sharing one work dir: each its own host
 * directory and data directory, one CA directory and one pair of password files for all (what
 * Secrets Manager is on AWS).
 */
export async function writeBootstrapConfigs(o: {
  workDir: string;
  cluster: string;
  hosts: { name: string; address: string; port: number; agentPort: number }[];
  peers?: { name: string; address: string; port: number }[];
  clientCidrs: string[];
  bindir: string;
  osUser: OsUser | null;
  extra?: (h: BootstrapHost) => Partial<AgentConfigInput>;
}): Promise<BootstrapHost[]> {
  // The server's OS user walks through here to its own host directory.
  await chmod(o.workDir, 0o711);
  // A stand-in key unless the test wrote its own: the bootstrap reads none.
  await writeFile(join(o.workDir, 'agent.key'), 'k'.repeat(64), { mode: 0o600, flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  const peers = (o.peers ?? o.hosts).map((h) => ({ name: h.name, host: h.address, port: h.port }));
  const out: BootstrapHost[] = [];
  for (const h of o.hosts) {
    const dir = join(o.workDir, h.name);
    await mkdir(dir, { recursive: true, mode: 0o711 });
    const host: BootstrapHost = { name: h.name, address: h.address, port: h.port, dataDir: join(dir, 'data'), files: hostFiles(join(dir, 'pgvigil')), configPath: join(dir, 'agent.json') };
    const config: AgentConfigInput = {
      cluster: o.cluster,
      node: h.name,
      listen: { host: h.address, port: h.agentPort },
      dataDir: host.dataDir,
      bindir: o.bindir,
      pgPort: h.port,
      // The agent logs in as the superuser over the socket (peer), never over the network.
      pgHost: host.files.socketDir,
      ...(o.osUser ? { osUser: o.osUser.name } : {}),
      keyFile: join(o.workDir, 'agent.key'),
      stateDir: join(dir, 'state'),
      lease: { ttlMs: 5_000, renewEveryMs: 1_000 },
      bootstrap: {
        address: h.address,
        peers,
        hostDir: host.files.dir,
        clientCidrs: o.clientCidrs,
        walReceiverTimeoutMs: 3_000,
        ca: { dir: join(o.workDir, 'ca') },
        passwords: { monitor: { file: join(o.workDir, 'secrets', 'monitor.password') }, replication: { file: join(o.workDir, 'secrets', 'replication.password') } },
        waitForPrimaryMs: 30_000,
      },
      ...o.extra?.(host),
    };
    await writeFile(host.configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
    out.push(host);
  }
  return out;
}

export type BootstrapAnswer = { ok: true; did: string; from?: string; changed: string[] } | { ok: false; reason: string };

/**
 * `pgvigil-agent bootstrap --config … --json` in its own process, as the systemd unit's
 * ExecStartPre runs it; `agent` is the script (the host bundle, or the source through tsx),
 * `wrap` what runs it elsewhere (`ip netns exec <ns>`).
 */
export async function runBootstrap(host: BootstrapHost, o: { agent?: string; wrap?: string[] } = {}): Promise<BootstrapAnswer> {
  const script = o.agent ? [o.agent] : ['--import', 'tsx', 'lib/agent/main.ts'];
  const argv = [...(o.wrap ?? []), process.execPath, ...script, 'bootstrap', '--config', host.configPath, '--json'];
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as BootstrapAnswer;
  } catch {
    return { ok: false, reason: `exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}` };
  }
}

export async function stopServer(bindir: string, host: BootstrapHost, osUser: OsUser | null): Promise<void> {
  await runPg(bindir, 'pg_ctl', ['stop', '-w', '-t', '30', '-m', 'immediate', '-D', host.dataDir], { osUser, timeoutMs: 40_000 });
}

/**
 * Hosts on 127.0.0.1 for the cases of one describe block, each with its own ports, host and
 * data directories: their configs written before the cases, their servers stopped and the
 * work dir removed after. `names[i]` listens on `port + i`, its agent on `agentPort + i`.
 */
export function localBootstrapHosts(o: { tmpPrefix: string; cluster: string; names: string[]; port: number; agentPort: number }) {
  const bins = findPgBinaries();
  const osUser = ensurePgOsUser();
  const fixture = { bins, osUser, workDir: '', hosts: [] as BootstrapHost[], host: (name: string) => fixture.hosts.find((h) => h.name === name)! };
  before(async () => {
    if (!bins.ok) throw new Error(bins.reason);
    fixture.workDir = await mkdtemp(o.tmpPrefix);
    fixture.hosts = await writeBootstrapConfigs({
      workDir: fixture.workDir,
      cluster: o.cluster,
      hosts: o.names.map((name, i) => ({ name, address: '127.0.0.1', port: o.port + i, agentPort: o.agentPort + i })),
      clientCidrs: ['127.0.0.1/32'],
      bindir: bins.bindir,
      osUser,
    });
  });
  after(async () => {
    if (bins.ok) for (const h of fixture.hosts) await stopServer(bins.bindir, h, osUser);
    if (fixture.workDir) await rm(fixture.workDir, { recursive: true, force: true });
  });
  return fixture;
}
