import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { leaseRenewEveryMs } from '../../lib/agent/lease.ts';
import type { ControlPlane } from '../../lib/control/controlPlane.ts';
import { decideOnce } from '../../lib/control/decideOnce.ts';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import { ClusterSpec, type ReplicationSpec } from '../../lib/domain/spec.ts';
import type { ClusterState } from '../../lib/domain/state.ts';
import { bundleAgent } from '../../lib/local/agentBundle.ts';
import { startControlLoop, type ControlLoop } from '../../lib/local/controlLoop.ts';
import { startDynalite, type DynaliteServer } from '../../lib/local/dynaliteServer.ts';
import type { Log } from '../../lib/log.ts';
import { ensurePgOsUser, type OsUser } from '../../lib/postgres/osUser.ts';
import { findPgBinaries } from '../../lib/postgres/pgBinaries.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { readDecisions } from '../../lib/store/decisionLog.ts';
import { readLeases } from '../../lib/store/leases.ts';
import { loadState } from '../../lib/store/loadState.ts';
import { newestPerNode, readObservations } from '../../lib/store/observations.ts';
import { closeStore, createStore, type Store } from '../../lib/store/store.ts';
import type { StoreConfig } from '../../lib/store/storeConfig.ts';
import { ensureTable } from '../../lib/store/table.ts';
import { DirectWriter, type Ack } from '../support/directWrites.ts';
import { createLab, namespaceSupport, run, type NetnsLab } from '../support/netns.ts';
import { prepareNsAgent, AGENT_PORT, type NsAgent } from '../support/netnsAgent.ts';
import { cutOff, nftSupport, type Partition } from '../support/netnsFirewall.ts';
import { createNsCluster, PG_PORT, type NsCluster } from '../support/netnsHosts.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * Issue 12's partition test on real servers. Three hosts (network namespaces on one bridge),
 * each with PostgreSQL and its agent; the control plane (probes, decide, reactor) and the store
 * (dynalite) in this process, in the root namespace, on the bridge's address. nftables rules
 * inside the namespaces cut {q1 primary, q3 standby} from {control plane, store, q2 standby},
 * both ways, silently (dropped packets); q1 and q3 still talk to each other.
 *
 * The client writes directly to every node's own address (no proxy, no VIP: they would cut the
 * old primary's connections and hide a split brain), from a second address of this host that
 * the rules let through, as an application next to the primary would. Each acknowledgement is
 * recorded with the server that gave it and the time on this process's monotonic clock.
 *
 * What is judged, on what each node acknowledged:
 *  - no split brain: no write acknowledged by the old primary after the new primary's first;
 *  - synchronous (ANY 1): every acknowledged write is on the final primary;
 *  - async: the writes lost were all acknowledged by the old primary, none after the lease
 *    window (fenceWaitMs after the cut) closed; their count is reported.
 * Rule 3's lease invariant is what makes the first hold: behind the cut q2 stops replying to
 * q1, so q1's agent stops PostgreSQL once its lease lapses, before the decider's lease proof
 * (witness q2, off q1 for fenceWaitMs) lets q2 be promoted.
 */
const skip = (await namespaceSupport()) ?? (await nftSupport());
const PREFIX = '10.78.0';
/** The client's own source address, on the bridge beside the control plane's (PREFIX.254): the cut drops only the latter. */
const CLIENT_ADDRESS = `${PREFIX}.250`;
const HOSTS = ['q1', 'q2', 'q3'] as const;
const TABLE = 'partition_writes';
/** Hosts on each side of the cut: the primary with one standby, away from the control plane and the other standby. */
const CUT_SIDE = ['q1', 'q3'];
const FAR_SIDE = ['q2'];

interface Case {
  cluster: string;
  spec: ClusterSpec;
  nodes: NsCluster;
  agents: Map<string, NsAgent>;
  loop: ControlLoop;
  cp: ControlPlane;
  writer: DirectWriter;
  partition: Partition | null;
}

describe('partition {primary, standby} | {control plane, store, standby} on real servers, in network namespaces', { skip: skip ?? false }, () => {
  let lab: NetnsLab | undefined;
  let dyn: DynaliteServer | undefined;
  let store: Store | undefined;
  let storeConfig: StoreConfig;
  let workDir: string | undefined;
  let controlLog: WriteStream | undefined;
  let log: Log;
  let osUser: OsUser;
  let bindir: string;
  let keyFile: string;
  let agentKey: Buffer;
  let agentScript: string;
  let current: Case | null = null;
  let failed = false;

  before(async () => {
    const user = ensurePgOsUser();
    if (!user) throw new Error('root is needed to run PostgreSQL as the pgvigil OS user');
    osUser = user;
    const bins = findPgBinaries();
    if (!bins.ok) throw new Error(bins.reason);
    bindir = bins.bindir;
    workDir = await mkdtemp(join(tmpdir(), 'pgv-partition-'));
    // Each case's hosts live in a subdirectory that the PostgreSQL OS user owns: it must pass through this one.
    await chmod(workDir, 0o711);
    controlLog = createWriteStream(join(workDir, 'control.log'), { flags: 'a' });
    log = (e) => controlLog!.write(`${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`);

    lab = await createLab(PREFIX, HOSTS.map((name, i) => ({ name, octet: i + 1 })));
    // The client's address: a second one on the bridge. The control plane keeps the first (the source the kernel picks).
    const added = await run('ip', ['addr', 'add', `${CLIENT_ADDRESS}/32`, 'dev', lab.bridge], { timeoutMs: 10_000 });
    if (!added.ok) throw new Error(`ip addr add ${CLIENT_ADDRESS}: ${added.stderr.trim()}`);

    dyn = await startDynaliteInRange(lab.gateway);
    storeConfig = { table: 'pgvigil', region: 'us-east-1', endpoint: dyn.endpoint };
    store = createStore(storeConfig, (e) => log({ ...e, component: 'store' }));
    const table = await ensureTable(store);
    if (!table.ok) throw new Error(table.reason);

    keyFile = join(workDir, 'agent.key');
    const keyText = randomBytes(32).toString('hex');
    await writeFile(keyFile, keyText, { mode: 0o600 });
    agentKey = Buffer.from(keyText);
    agentScript = await bundleAgent(workDir);
  });

  after(async () => {
    const step = async (what: string, f: () => Promise<unknown> | undefined) => {
      try {
        await f();
      } catch (e) {
        process.stderr.write(`partition test teardown: ${what}: ${(e as Error).message}\n`);
      }
    };
    await step('case', () => endCase());
    await step('store', async () => store && closeStore(store));
    await step('dynalite', () => dyn?.stop());
    await step('namespaces', () => lab?.destroy());
    await step('control log', () => new Promise<void>((r) => (controlLog ? controlLog.end(() => r()) : r())));
    if (workDir && !failed) await step('work dir', () => rm(workDir!, { recursive: true, force: true }));
    else if (workDir) process.stderr.write(`partition test: logs kept in ${workDir}\n`);
  });

  /** A fresh cluster on the lab's hosts (q1 primary), its agents and a control loop; the lab, store and key are shared. */
  const startCase = async (cluster: string, replication: ReplicationSpec): Promise<Case> => {
    assert.equal(current, null, 'one case at a time');
    const dir = join(workDir!, cluster);
    const nodes = await createNsCluster({ lab: lab!, workDir: dir, bindir, osUser, names: [...HOSTS], walReceiverTimeoutMs: 2_000, replication });
    const agents = new Map<string, NsAgent>();
    const writer = new DirectWriter({ targets: HOSTS.map((n) => ({ node: n, host: lab!.host(n).address, port: PG_PORT })), localAddress: CLIENT_ADDRESS, table: TABLE });
    const spec = ClusterSpec.parse({
      cluster,
      nodes: HOSTS.map((name) => ({ name, host: lab!.host(name).address, port: PG_PORT, agent: `http://${lab!.host(name).address}:${AGENT_PORT}` })),
      replication,
      timing: {},
    });
    const cp: ControlPlane = { store: store!, agentKey, endpoints: null, log: (e) => log({ ...e, cluster }), decider: `partition-${cluster}`, clock: () => Date.now(), awaitActions: false };
    // Registered before anything can fail, so the teardown finds what was started.
    const c: Case = { cluster, spec, nodes, agents, cp, writer, partition: null, loop: { stop: async () => {}, state: () => null, probeRuns: () => ({ byMinute: 0, byWake: 0, rounds: 0, probing: false }) } };
    current = c;
    const init = await decideOnce(cp, cluster, { type: 'initialize', now: cp.clock(), spec, primary: 'q1' });
    if (!init.ok) throw new Error(init.reason);
    const lease = { ttlMs: spec.timing.leaseTtlMs, renewEveryMs: leaseRenewEveryMs(spec.timing.leaseTtlMs) };
    for (const name of HOSTS) {
      // No VIP: the client writes to each node's own address.
      agents.set(name, await prepareNsAgent({ cluster, node: nodes.node(name), workDir: dir, bindir, osUser: osUser.name, keyFile, store: storeConfig, lease, agentScript }));
    }
    await Promise.all([...agents.values()].map((a) => a.start()));
    c.loop = startControlLoop({ cp, cluster });

    // Ready when the control plane sees q2 and q3 stream from q1, and every agent's lease names
    // the members it counts and its TTL (an agent that never learned them falls back to the
    // older guard, which this test is not about).
    await waitFor(
      'the control plane to see q2 and q3 stream from q1, and every lease to name its members',
      async () => {
        const obs = await newest(cluster);
        const streaming = ['q2', 'q3'].every((n) => {
          const o = obs.get(n);
          return o?.reachable && o.role === 'standby' && o.walReceiver?.status === 'streaming' && o.walReceiver.upstream === 'q1';
        });
        const leases = await readLeases(store!, cluster, HOSTS);
        if (!leases.ok) throw new Error(leases.reason);
        const named = HOSTS.every((n) => {
          const l = leases.leases.find((x) => x.node === n);
          return l?.ttlMs === spec.timing.leaseTtlMs && [...(l.members ?? [])].sort().join(',') === HOSTS.filter((m) => m !== n).join(',');
        });
        return streaming && named && obs.get('q1')?.role === 'primary';
      },
      60_000,
      200,
    );
    await sqlOnce(PG_PORT, `CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, target text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`, [], { host: lab!.host('q1').address });
    await waitFor('the table to reach both standbys', async () => {
      for (const n of ['q2', 'q3']) {
        const [r] = await sqlOnce<{ t: string | null }>(PG_PORT, `SELECT to_regclass('${TABLE}')::text AS t`, [], { host: lab!.host(n).address });
        if (!r?.t) return false;
      }
      return true;
    });
    writer.start();
    await waitFor('q1 to acknowledge the first writes', () => writer.acksBy('q1').length >= 50, 20_000);
    return c;
  };

  /** Heal, stop the writer, the control loop, the agents (before PostgreSQL: an agent could start it again), then PostgreSQL. */
  const endCase = async () => {
    const c = current;
    if (!c) return;
    current = null;
    const errors: string[] = [];
    const step = async (what: string, f: () => Promise<unknown> | undefined) => {
      try {
        await f();
      } catch (e) {
        errors.push(`${what}: ${(e as Error).message}`);
      }
    };
    await step('heal', () => c.partition?.heal());
    await step('writer', () => c.writer.stop());
    await step('control loop', () => c.loop.stop());
    await step('agents', () => Promise.all([...c.agents.values()].map((a) => a.stop())));
    await step('postgres', () => c.nodes.stopAll());
    if (errors.length > 0) throw new Error(`ending case ${c.cluster}: ${errors.join('; ')}`);
  };

  /**
   * Runs a test body, remembering a failure so the logs are kept, and ends the case either way
   * (unless `keep`: the next test goes on with it, and ends it). A todo's failure keeps no logs.
   */
  const body = (f: () => Promise<void>, { keep = false, todo = false } = {}) => async () => {
    let ok = false;
    try {
      await f();
      ok = true;
    } catch (e) {
      if (!todo) failed = true;
      throw e;
    } finally {
      if (!keep || !ok) await endCase();
    }
  };

  const state = async (cluster: string): Promise<ClusterState> => {
    const s = await loadState(store!, cluster);
    if (!s.ok) throw new Error(s.reason);
    return s.state;
  };
  const events = async (cluster: string): Promise<DecisionEvent[]> => {
    const r = await readDecisions(store!, cluster);
    if (!r.ok) throw new Error(r.reason);
    return r.items.flatMap((i) => i.events);
  };
  const newest = async (cluster: string) => {
    const now = Date.now();
    const r = await readObservations(store!, cluster, now - 120_000, now + 1_000);
    if (!r.ok) throw new Error(r.reason);
    return new Map(newestPerNode(r.observations).map((o) => [o.node, o]));
  };
  const agentLog = (c: Case, node: string) => readFile(c.agents.get(node)!.logPath, 'utf8');

  /** The cut, both ways, from real nftables rules in the hosts' namespaces; returns when the rules are in place. */
  const cut = async (c: Case): Promise<Partition> => {
    c.partition = await cutOff(lab!, CUT_SIDE, FAR_SIDE, [lab!.gateway]);
    return c.partition;
  };

  /** Until the primary lists every other node as a streaming standby, and the control plane has no failover in progress. */
  const converged = async (c: Case, primary: string) =>
    waitFor(
      `${HOSTS.filter((n) => n !== primary).join(' and ')} to stream from ${primary} after the heal`,
      async () => {
        const s = await state(c.cluster);
        if (s.primary !== primary || s.failover !== null) return false;
        const rows = await sqlOnce<{ name: string }>(PG_PORT, "SELECT application_name AS name FROM pg_stat_replication WHERE state = 'streaming'", [], { host: lab!.host(primary).address });
        return HOSTS.filter((n) => n !== primary).every((n) => rows.some((r) => r.name === n));
      },
      120_000,
      250,
    );

  /** Until the control plane has made `node` primary in a term after `sinceTerm`. */
  const promotedTo = (c: Case, node: string, sinceTerm: number, what: string, timeoutMs = 60_000) =>
    waitFor(
      what,
      async () => {
        const s = await state(c.cluster);
        return s.primary === node && s.term > sinceTerm ? s : undefined;
      },
      timeoutMs,
      200,
    );

  /** After a promotion: the new primary has acknowledged writes, and the old one has been tried since (a split brain would show now). */
  const newPrimaryWrites = async (c: Case, oldPrimary: string, next: string) =>
    waitFor(
      `${next} to acknowledge writes and ${oldPrimary} to be tried after them`,
      () => {
        const mine = c.writer.acksBy(next);
        const first = mine[0]?.at;
        return mine.length >= 20 && first !== undefined && c.writer.attemptsSince(oldPrimary, first) >= 5;
      },
      30_000,
    );

  const ids = async (host: string): Promise<Set<number>> => {
    const rows = await sqlOnce<{ id: string }>(PG_PORT, `SELECT id FROM ${TABLE}`, [], { host, timeoutMs: 30_000 });
    return new Set(rows.map((r) => Number(r.id)));
  };

  /**
   * Judged on what each node acknowledged, async: no split brain (q1 acknowledged nothing after
   * q2's first), only q1's writes lost, and none of them after the lease window. The bound
   * (ARCHITECTURE rule 3, issue 12's honest guarantees): the async lag at the cut (at most
   * maximumLagOnFailover, checked by the decider) plus what q1 acknowledged within its lease
   * window. Its agent lapses a TTL after its last renewal was sent (before the cut was in place)
   * and stops PostgreSQL within fenceWaitMs − leaseTtlMs more: no acknowledgement later.
   */
  const judgeAsync = async (c: Case, appliedAt: number) => {
    const v = verdict(c.writer.acks, 'q1', 'q2');
    assert.deepEqual(v.strangers, [], 'only q1 and then q2 acknowledged writes');
    assert.deepEqual(v.mismatched, [], 'every acknowledgement came from the server the write was sent to');
    assert.equal(v.lateOld.length, 0, `split brain: q1 acknowledged ${v.lateOld.length} writes after q2's first acknowledgement (ids ${v.lateOld.slice(0, 5).map((a) => a.id).join(', ')}…)`);
    const onFinal = await ids(lab!.host('q2').address);
    const lost = c.writer.acks.filter((a) => !onFinal.has(a.id));
    assert.ok(lost.every((a) => a.node === 'q1'), 'only writes the old primary acknowledged can be lost');
    const lastOld = v.old.at(-1)!;
    const window = c.spec.timing.fenceWaitMs;
    assert.ok(lastOld.at - appliedAt <= window, `q1 acknowledged a write ${Math.round(lastOld.at - appliedAt)} ms after the cut, past the lease window (fenceWaitMs ${window} ms)`);
    return { v, lost, lastOld };
  };

  test(
    'async: the cut-off primary stops itself before the standby in sight is promoted (no split brain), and the loss is bounded by the lease window',
    { timeout: 600_000 },
    body(async () => {
      const c = await startCase('pasync', { mode: 'async', maximumLagOnFailover: 1024 * 1024 });
      const t0 = await state(c.cluster);
      const { startedAt, appliedAt } = await cut(c);
      const promoted = await promotedTo(c, 'q2', t0.term, 'the control plane to promote q2, the standby in its sight');
      const promotedAt = performance.now();
      await newPrimaryWrites(c, 'q1', 'q2');
      assert.match(await agentLog(c, 'q1'), /self-fenced: PostgreSQL stopped/, "q1's agent stopped PostgreSQL behind the cut");
      const fenced = (await events(c.cluster)).find((e) => e.type === 'Fenced' && e.term === promoted.term);
      assert.ok(fenced && fenced.type === 'Fenced', 'the failover records how q1 was fenced');

      await c.partition!.heal();
      const healedAt = performance.now();
      await converged(c, 'q2');
      await c.writer.stop();
      // The agent's own stop is in the decision log too, with its reason, once its lease could say so.
      const selfFenced = await waitFor('the log to record q1\'s self-fence', async () => (await events(c.cluster)).find((e) => e.type === 'NodeSelfFenced' && e.node === 'q1'), 30_000, 200);
      assert.match(selfFenced.reason, /^q1's agent stopped its PostgreSQL itself at .* \(its clock\), in term \d+: lease not renewed for \d+ ms/);

      const { v, lost, lastOld } = await judgeAsync(c, appliedAt);
      const lostBeforeCut = lost.filter((a) => a.at < startedAt).length;
      report('async', {
        fencedBy: fenced.by,
        cutTookMs: appliedAt - startedAt,
        cutToPromotedMs: promotedAt - appliedAt,
        cutToLastOldAckMs: lastOld.at - appliedAt,
        cutToFirstNewAckMs: v.firstNew! - appliedAt,
        healToConvergedMs: performance.now() - healedAt,
        acks: { q1: v.old.length, q2: v.new.length },
        lost: lost.length,
        lostAckedBeforeCut: lostBeforeCut,
      });
    }),
  );

  test(
    'async, the standby behind the cut loses power during the failover: the failover ends on the other, and once it boots after the heal it streams from the new primary; no split brain, the loss bounded',
    { timeout: 600_000 },
    body(async () => {
      const c = await startCase('prestart', { mode: 'async', maximumLagOnFailover: 1024 * 1024 });
      const t0 = await state(c.cluster);
      const { appliedAt } = await cut(c);
      // The moment the failover starts, q3's host (behind the cut with q1) loses power:
      // PostgreSQL and the agent die. It boots again once the cut heals, and systemd starts the
      // agent alone, as on a host (the test can't reach an agent behind the cut to see it listen).
      await waitFor('the failover to start', async () => (await events(c.cluster)).some((e) => e.type === 'FailoverStarted' && e.term > t0.term), 60_000, 100);
      const q3 = c.agents.get('q3')!;
      await q3.stop({ kill: true });
      await c.nodes.kill('q3');
      const promoted = await promotedTo(c, 'q2', t0.term, 'the control plane to promote q2');
      await newPrimaryWrites(c, 'q1', 'q2');
      await c.partition!.heal();
      const healedAt = performance.now();
      await q3.start();
      // q3 held WAL from q1 that q2 may lack (async): it comes back as q2's standby, rewound if need be.
      await converged(c, 'q2');
      await c.writer.stop();

      const { v, lost } = await judgeAsync(c, appliedAt);
      report('async, standby power-cycled', {
        term: promoted.term,
        healToConvergedMs: performance.now() - healedAt,
        acks: { q1: v.old.length, q2: v.new.length },
        lost: lost.length,
      });
    }),
  );

  test(
    'async, the one standby in sight loses power as the failover starts, its agent back first: it is started in recovery and promoted while the cut holds; no split brain, the loss bounded',
    { timeout: 600_000 },
    body(async () => {
      const c = await startCase('pcand', { mode: 'async', maximumLagOnFailover: 1024 * 1024 });
      const t0 = await state(c.cluster);
      const { appliedAt } = await cut(c);
      await waitFor('the failover to start', async () => (await events(c.cluster)).some((e) => e.type === 'FailoverStarted' && e.term > t0.term), 60_000, 100);
      // q2, the candidate and the only standby the control plane sees, loses power; systemd
      // brings back its agent alone, as on a host.
      const q2 = c.agents.get('q2')!;
      await q2.stop({ kill: true });
      await c.nodes.kill('q2');
      const poweredAt = performance.now();
      await q2.start();
      const promoted = await promotedTo(c, 'q2', t0.term, 'the control plane to promote q2 while q1 and q3 are still cut off', 120_000);
      const promotedAt = performance.now();
      await newPrimaryWrites(c, 'q1', 'q2');
      const evs = await events(c.cluster);
      const started = evs.some((e) => e.type === 'ActionRequested' && e.intent.action === 'start' && e.intent.node === 'q2');
      await c.partition!.heal();
      const healedAt = performance.now();
      await converged(c, 'q2');
      await c.writer.stop();

      const { v, lost } = await judgeAsync(c, appliedAt);
      report('async, candidate power-cycled', {
        term: promoted.term,
        startedBy: started ? 'start intent' : 'the promote',
        powerCutToPromotedMs: promotedAt - poweredAt,
        healToConvergedMs: performance.now() - healedAt,
        acks: { q1: v.old.length, q2: v.new.length },
        lost: lost.length,
      });
    }),
  );

  let syncCutAt = 0;
  let syncTerm = 0;
  test(
    'synchronous ANY 1: no failover while the quorum is out of sight, and the cut-off primary stops itself',
    { timeout: 600_000 },
    body(
      async () => {
        const c = await startCase('psync', { mode: 'synchronous', quorum: 1 });
        syncTerm = (await state(c.cluster)).term;
        syncCutAt = (await cut(c)).appliedAt;
        // q3 may hold commits q2 lacks (q1 still commits with q3's acknowledgement): promoting q2
        // would lose them, so the decider must refuse, and q1's agent must stop q1 once its lease lapses.
        await waitFor(
          'the decider to refuse the failover (the quorum is out of sight) and q1 to stop itself',
          async () => {
            const impossible = (await events(c.cluster)).some((e) => e.type === 'FailoverImpossible' && e.from === 'q1');
            return impossible && /self-fenced: PostgreSQL stopped/.test(await agentLog(c, 'q1'));
          },
          60_000,
          200,
        );
        const during = await state(c.cluster);
        assert.equal(during.primary, 'q1', 'no promotion behind the cut');
        assert.equal(during.term, syncTerm, 'no failover started behind the cut');
        assert.equal(c.writer.acks.filter((a) => a.node !== 'q1').length, 0, 'no other node acknowledged a write');
        report('sync, behind the cut', {
          cutToSelfFenceSeenMs: performance.now() - syncCutAt,
          q1AcksAfterCut: c.writer.acksBy('q1').filter((a) => a.at > syncCutAt).length,
          cutToLastQ1AckMs: c.writer.acksBy('q1').at(-1)!.at - syncCutAt,
        });
      },
      { keep: true },
    ),
  );

  test(
    'synchronous ANY 1, healed: a new primary takes writes and holds every acknowledged write (no split brain)',
    {
      // Found a bug (the new primary, promoted on a lapsed lease, stopped itself at once): promote now renews first.
      timeout: 600_000,
    },
    body(async () => {
      const c = current;
      assert.ok(c?.cluster === 'psync', 'the synchronous case before this one ran');
      await c.partition!.heal();
      const healedAt = performance.now();
      const promoted = await waitFor(
        'the control plane to fail over once it sees the whole quorum',
        async () => {
          const s = await state(c.cluster);
          return s.primary !== 'q1' && s.primary !== null && s.term > syncTerm ? s : undefined;
        },
        60_000,
        200,
      );
      const next = promoted.primary!;
      // Either the new primary takes writes, or (the bug) its agent stopped it right after the promotion.
      const outcome = await waitFor(
        `${next} to acknowledge writes and q1 to be tried after them`,
        async () => {
          const mine = c.writer.acksBy(next);
          const first = mine[0]?.at;
          if (mine.length >= 20 && first !== undefined && c.writer.attemptsSince('q1', first) >= 5) return 'serving';
          const line = (await agentLog(c, next)).split('\n').find((l) => l.includes('self-fenced: PostgreSQL stopped'));
          return line ?? undefined;
        },
        30_000,
      );
      assert.equal(outcome, 'serving', `${next} was promoted after the heal, then its agent stopped it: ${outcome}`);
      await converged(c, next);
      await c.writer.stop();

      const v = verdict(c.writer.acks, 'q1', next);
      assert.deepEqual(v.strangers, [], `only q1 and then ${next} acknowledged writes`);
      assert.deepEqual(v.mismatched, [], 'every acknowledgement came from the server the write was sent to');
      assert.equal(v.lateOld.length, 0, `split brain: q1 acknowledged ${v.lateOld.length} writes after ${next}'s first acknowledgement`);
      const onFinal = await ids(lab!.host(next).address);
      const lost = c.writer.acks.filter((a) => !onFinal.has(a.id));
      assert.deepEqual(lost.map((a) => `${a.id}@${a.node}`), [], `every acknowledged write is on the final primary ${next}`);
      report('sync, healed', {
        promoted: next,
        healToFirstNewAckMs: v.firstNew! - healedAt,
        healToConvergedMs: performance.now() - healedAt,
        acks: { q1: v.old.length, [next]: v.new.length },
        lost: 0,
      });
    }),
  );

  test(
    "double fault, async: the primary's agent killed (PostgreSQL serving) before the cut: no lease proof, no split brain",
    { timeout: 600_000 },
    body(async () => {
      const c = await startCase('pdouble', { mode: 'async', maximumLagOnFailover: 1024 * 1024 });
      const t0 = await state(c.cluster);
      const agent = c.agents.get('q1')!;
      assert.ok(agent.pid() !== null, "q1's agent runs");
      await agent.stop({ kill: true });
      const killedAt = performance.now();
      await waitFor('q1 to keep acknowledging writes with its agent dead', () => c.writer.acksBy('q1').filter((a) => a.at > killedAt).length >= 20, 20_000);
      // Cut only once the lease has been still for more than a TTL: an agent that dies within one TTL
      // of its host going silent is the residual double fault ARCHITECTURE names, not this case.
      let version: number | null = null;
      let changedAt = performance.now();
      await waitFor(
        "q1's lease to be still for more than its TTL",
        async () => {
          const leases = await readLeases(store!, c.cluster, ['q1']);
          if (!leases.ok) throw new Error(leases.reason);
          const v = leases.leases.find((l) => l.node === 'q1')?.version ?? null;
          if (v !== version) {
            version = v;
            changedAt = performance.now();
          }
          return performance.now() - changedAt > c.spec.timing.leaseTtlMs + 2 * c.spec.timing.probeIntervalMs;
        },
        20_000,
        100,
      );
      const { appliedAt } = await cut(c);
      // The decider starts a failover (q1 failed, q2 off it) and asks q1's agent to fence, which can't
      // answer. No lease proof may hold: the lease stopped before the node went silent. Judged once
      // the fence was asked again (after actionTimeoutMs > fenceWaitMs), so a lease proof would have
      // had its time; a promotion ends the wait too, and the split-brain check below judges it.
      const seen = await waitFor(
        "the failover's fence of q1 to be asked twice",
        async () => {
          const evs = await events(c.cluster);
          const start = evs.find((e) => e.type === 'FailoverStarted' && e.term > t0.term);
          if (!start) return undefined;
          const asks = evs.filter((e) => e.type === 'ActionRequested' && e.intent.action === 'fence' && e.intent.node === 'q1' && e.term === start.term);
          const s = await state(c.cluster);
          return asks.length >= 2 || s.primary !== 'q1' ? { start, evs, s } : undefined;
        },
        60_000,
        200,
      );
      const judgedAt = performance.now();
      const proof = seen.evs.find((e) => e.type === 'Fenced' && e.term === seen.start.term);
      const next = seen.s.primary === 'q1' ? null : seen.s.primary;
      if (next) await newPrimaryWrites(c, 'q1', next);

      await c.partition!.heal();
      const healedAt = performance.now();
      if (next === null) {
        await waitFor(
          'the failover to be called off once q1 answers as primary again',
          async () => {
            const s = await state(c.cluster);
            return s.primary === 'q1' && s.failover === null;
          },
          60_000,
          200,
        );
        await waitFor('q1 to keep acknowledging writes after the heal', () => c.writer.acksBy('q1').filter((a) => a.at > healedAt).length >= 20, 20_000);
      }
      await c.writer.stop();

      const v = verdict(c.writer.acks, 'q1', next);
      assert.deepEqual(v.mismatched, [], 'every acknowledgement came from the server the write was sent to');
      assert.deepEqual(v.strangers, [], `only q1${next ? ` and then ${next}` : ''} acknowledged writes`);
      const how = proof && proof.type === 'Fenced' ? `fenced by ${proof.by}: ${proof.reason}` : 'never fenced';
      assert.equal(v.lateOld.length, 0, `split brain: q1 (its agent dead) acknowledged ${v.lateOld.length} writes after ${next}'s first acknowledgement; ${how}`);
      assert.equal(proof, undefined, `no fence proof may hold for q1 while its agent is dead and PostgreSQL serves: ${how}`);
      const onQ1 = await ids(lab!.host('q1').address);
      const lost = c.writer.acks.filter((a) => !onQ1.has(a.id));
      assert.deepEqual(lost.map((a) => a.id), [], 'q1 stayed primary: it holds every write it acknowledged');
      report('double fault', {
        promoted: next ?? 'none',
        cutToJudgedMs: judgedAt - appliedAt,
        q1AcksDuringCut: c.writer.acksBy('q1').filter((a) => a.at > appliedAt && a.at < healedAt).length,
        acks: Object.fromEntries(HOSTS.map((n) => [n, c.writer.acksBy(n).length])),
      });
    }),
  );
});

interface Verdict {
  old: Ack[];
  new: Ack[];
  firstNew: number | null;
  /** Acknowledged by the old primary after the new one's first acknowledgement: split brain. */
  lateOld: Ack[];
  /** Acknowledged by a node that is neither. */
  strangers: string[];
  /** Acknowledged by another server than the one the write was sent to. */
  mismatched: number[];
}

function verdict(acks: readonly Ack[], oldPrimary: string, newPrimary: string | null): Verdict {
  const old = acks.filter((a) => a.node === oldPrimary);
  const mine = newPrimary ? acks.filter((a) => a.node === newPrimary) : [];
  const firstNew = mine.length > 0 ? Math.min(...mine.map((a) => a.at)) : null;
  return {
    old,
    new: mine,
    firstNew,
    lateOld: firstNew === null ? [] : old.filter((a) => a.at > firstNew),
    strangers: [...new Set(acks.filter((a) => a.node !== oldPrimary && a.node !== newPrimary).map((a) => a.node))],
    mismatched: acks.filter((a) => a.node !== a.target).map((a) => a.id),
  };
}

function report(mode: string, figures: Record<string, unknown>): void {
  const round = (x: unknown): unknown => (typeof x === 'number' ? Math.round(x) : x && typeof x === 'object' ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, round(v)])) : x);
  process.stderr.write(`partition ${mode}: ${JSON.stringify(round(figures))}\n`);
}

/** dynalite on the bridge address, on a free port of 19500-19799 (the range this test may use). */
async function startDynaliteInRange(host: string): Promise<DynaliteServer> {
  const span = 300;
  const first = process.pid % span;
  let last: unknown;
  for (let i = 0; i < span; i++) {
    try {
      return await startDynalite({ host, port: 19500 + ((first + i) % span) });
    } catch (e) {
      last = e;
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    }
  }
  throw new Error(`no free port in 19500-19799 on ${host}: ${(last as Error).message}`);
}
