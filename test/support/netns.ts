import { spawn } from 'node:child_process';

export interface RunResult {
  ok: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

/**
 * Runs a program with an argument array (no shell). Settles on exit, not on the pipes
 * closing: a postmaster started through pg_ctl may hold inherited descriptors.
 */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const finish = (code: number | null, extra = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ok: code === 0, code, stdout, stderr: stderr + extra });
    };
    const child = spawn(cmd, [...args], {
      env: opts.env ?? { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', LANG: 'C' },
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(null, `\n${cmd} timed out after ${opts.timeoutMs ?? 30_000} ms`);
    }, opts.timeoutMs ?? 30_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => finish(null, `${cmd}: ${e.message}`));
    child.on('exit', (code) => {
      // Give the pipes a moment to deliver what was written before exit.
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(code);
      }, 50).unref();
    });
  });
}

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args, { timeoutMs: 10_000 });
  if (!r.ok) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

/** Null when this process can make network namespaces; else why not (the test skips with it). */
export async function namespaceSupport(): Promise<string | null> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root to create network namespaces (run as root, e.g. in CI)';
  const probe = `pgv-probe-${process.pid}`;
  const add = await run('ip', ['netns', 'add', probe], { timeoutMs: 10_000 });
  if (!add.ok) return `cannot create a network namespace (ip netns add: ${add.stderr.trim() || `exit ${add.code}`}): needs iproute2 and CAP_SYS_ADMIN`;
  await run('ip', ['netns', 'del', probe], { timeoutMs: 10_000 });
  return null;
}

export interface LabMember {
  /** e.g. h1, cli */
  name: string;
  /** Last octet of its address on the lab subnet. */
  octet: number;
}

export interface LabHost {
  name: string;
  ns: string;
  /** The interface inside the namespace: every host sees its own `eth0`, as a real one would. */
  iface: 'eth0';
  address: string;
}

export interface NetnsLab {
  bridge: string;
  /** The root namespace's address on the bridge: the control plane and the store live there. */
  gateway: string;
  hosts: Map<string, LabHost>;
  host(name: string): LabHost;
  /** `ip netns exec NS cmd args…` */
  exec(name: string, cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Pull the host's cable out (or put it back). */
  link(name: string, state: 'up' | 'down'): Promise<void>;
  /** Deletes every namespace and link this lab created; safe to call twice, and after a failed create. */
  destroy(): Promise<void>;
}

/**
 * Hosts on one L2 segment: a bridge in the root namespace with `${prefix}.254/24`, and for
 * each member a namespace joined to it by a veth pair, `eth0` inside at `${prefix}.<octet>/24`.
 * Names carry our pid so that nothing else's namespaces or links are touched; `nsPrefix` starts
 * each namespace's name (a test's own, e.g. pgvl for the EC2 lab).
 */
export async function createLab(prefix: string, members: LabMember[], nsPrefix = 'pgv'): Promise<NetnsLab> {
  const pid = process.pid;
  const bridge = `pgvbr${pid}`;
  const gateway = `${prefix}.254`;
  const createdNs: string[] = [];
  let bridgeMade = false;
  const hosts = new Map<string, LabHost>();

  const destroy = async () => {
    // Deleting a namespace deletes its end of the veth, and with it the peer on the bridge.
    for (const ns of createdNs.splice(0)) await run('ip', ['netns', 'del', ns], { timeoutMs: 10_000 });
    if (bridgeMade) await run('ip', ['link', 'del', bridge], { timeoutMs: 10_000 });
    bridgeMade = false;
  };

  try {
    const taken = await must('ip', ['-4', 'route', 'show', `${prefix}.0/24`]);
    if (taken.trim() !== '') {
      throw new Error(`${prefix}.0/24 is already routed here (${taken.trim()}): a test run killed before its teardown may have left a bridge (ip link show type bridge): delete it`);
    }
    await must('ip', ['link', 'add', bridge, 'type', 'bridge']);
    bridgeMade = true;
    await must('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge]);
    await must('ip', ['link', 'set', bridge, 'up']);
    for (const m of members) {
      const ns = `${nsPrefix}-${m.name}-${pid}`;
      const inside = `v${m.name}i${pid}`.slice(0, 15);
      const outside = `v${m.name}o${pid}`.slice(0, 15);
      await must('ip', ['netns', 'add', ns]);
      createdNs.push(ns);
      await must('ip', ['link', 'add', inside, 'type', 'veth', 'peer', 'name', outside]);
      await must('ip', ['link', 'set', inside, 'netns', ns]);
      await must('ip', ['link', 'set', outside, 'master', bridge, 'up']);
      await must('ip', ['-n', ns, 'link', 'set', inside, 'name', 'eth0']);
      await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await must('ip', ['-n', ns, 'addr', 'add', `${prefix}.${m.octet}/24`, 'dev', 'eth0']);
      await must('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      hosts.set(m.name, { name: m.name, ns, iface: 'eth0', address: `${prefix}.${m.octet}` });
    }
  } catch (e) {
    await destroy();
    throw e;
  }

  const host = (name: string): LabHost => {
    const h = hosts.get(name);
    if (!h) throw new Error(`no host ${name} in the lab (hosts: ${[...hosts.keys()].join(', ')})`);
    return h;
  };
  return {
    bridge,
    gateway,
    hosts,
    host,
    exec: (name, cmd, args, opts) => run('ip', ['netns', 'exec', host(name).ns, cmd, ...args], opts),
    async link(name, state) {
      await must('ip', ['-n', host(name).ns, 'link', 'set', 'eth0', state]);
    },
    destroy,
  };
}
