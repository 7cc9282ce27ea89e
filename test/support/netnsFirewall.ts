import { performance } from 'node:perf_hooks';
import { run, type NetnsLab } from './netns.ts';

/** The nftables table this helper owns inside a lab namespace: deleting it heals the cut there. */
const TABLE = 'pgvpartition';

/** Null when `nft` can filter packets inside a namespace; else why not (the test skips with it). */
export async function nftSupport(): Promise<string | null> {
  const v = await run('nft', ['--version'], { timeoutMs: 5_000 });
  if (!v.ok) return `needs nft (Debian's nftables: apt-get install nftables, as scripts/setup.sh does): ${v.stderr.trim() || `exit ${v.code}`}`;
  const probe = `pgv-nftprobe-${process.pid}`;
  const add = await run('ip', ['netns', 'add', probe], { timeoutMs: 10_000 });
  if (!add.ok) return `cannot create a namespace to try nft in: ${add.stderr.trim()}`;
  try {
    const t = await run('ip', ['netns', 'exec', probe, 'nft', 'add', 'table', 'inet', TABLE], { timeoutMs: 10_000 });
    if (!t.ok) return `nft cannot add a table in a network namespace (kernel without nf_tables?): ${t.stderr.trim() || `exit ${t.code}`}`;
    return null;
  } finally {
    await run('ip', ['netns', 'del', probe], { timeoutMs: 10_000 });
  }
}

export interface Partition {
  /** The nft table each cut host holds, as `nft list` prints it, for failure messages. */
  rules: Map<string, string>;
  /** When (performance.now()) the first rule was sent, and when every host's rules were in place. */
  startedAt: number;
  appliedAt: number;
  /** Delete every rule this cut added; safe to call twice. */
  heal(): Promise<void>;
}

/**
 * Cut the lab hosts `side` from `others` (lab hosts) and `addresses` (anything else: the root
 * namespace's bridge address, where the control plane and the store live), both ways, with
 * real nftables rules in each host's namespace: packets are dropped silently, as a broken
 * network drops them (no reset, no ICMP), established connections included. The `side` hosts
 * still talk to each other, and to any address not named. Each host's rules go in as one nft
 * transaction, all hosts at once, so the cut takes effect within a few milliseconds.
 */
export async function cutOff(lab: NetnsLab, side: readonly string[], others: readonly string[], addresses: readonly string[]): Promise<Partition> {
  const sideAddrs = side.map((n) => lab.host(n).address);
  const farAddrs = [...others.map((n) => lab.host(n).address), ...addresses];
  const plan = new Map<string, string[]>();
  for (const n of side) plan.set(n, farAddrs);
  for (const n of others) plan.set(n, sideAddrs);
  const cut = new Set<string>();
  const rules = new Map<string, string>();
  const heal = async () => {
    const hosts = [...cut];
    cut.clear();
    const results = await Promise.all(hosts.map(async (n) => ({ n, r: await lab.exec(n, 'nft', ['delete', 'table', 'inet', TABLE], { timeoutMs: 10_000 }) })));
    const failures = results.filter((x) => !x.r.ok).map((x) => `${x.n}: ${x.r.stderr.trim() || `exit ${x.r.code}`}`);
    if (failures.length > 0) throw new Error(`nft delete table in ${failures.join('; ')}`);
  };
  const startedAt = performance.now();
  let appliedAt = startedAt;
  try {
    await Promise.all(
      [...plan].map(async ([n, addrs]) => {
        const set = `{ ${addrs.join(', ')} }`;
        // One nft command line is one transaction: the table, both hooks and both rules at once.
        const ruleset = [
          `add table inet ${TABLE}`,
          `add chain inet ${TABLE} input { type filter hook input priority -10 ; policy accept ; }`,
          `add chain inet ${TABLE} output { type filter hook output priority -10 ; policy accept ; }`,
          `add rule inet ${TABLE} input ip saddr ${set} drop`,
          `add rule inet ${TABLE} output ip daddr ${set} drop`,
        ].join(' ; ');
        cut.add(n);
        const r = await lab.exec(n, 'nft', [ruleset], { timeoutMs: 10_000 });
        if (!r.ok) throw new Error(`nft in ${n}: ${r.stderr.trim() || `exit ${r.code}`} (rules: ${ruleset})`);
      }),
    );
    appliedAt = performance.now();
    for (const n of plan.keys()) rules.set(n, (await lab.exec(n, 'nft', ['list', 'table', 'inet', TABLE], { timeoutMs: 10_000 })).stdout.trim());
  } catch (e) {
    await heal().catch(() => {});
    throw e;
  }
  return { rules, startedAt, appliedAt, heal };
}
