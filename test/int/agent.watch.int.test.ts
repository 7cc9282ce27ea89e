import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { decide } from '../../lib/domain/decide.ts';
import { ClusterSpec } from '../../lib/domain/spec.ts';
import { bundleAgent } from '../../lib/local/agentBundle.ts';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { startDynalite, type DynaliteServer } from '../../lib/local/dynaliteServer.ts';
import { commitDecision } from '../../lib/store/commitDecision.ts';
import { closeStore, createStore } from '../../lib/store/store.ts';
import { ensureTable } from '../../lib/store/table.ts';
import { readWakes, type Wake } from '../../lib/store/wakes.ts';
import { startTestAgent, type TestAgent } from '../support/agentHarness.ts';
import { startProcessAgent, type ProcessAgent } from '../support/processAgent.ts';
import { waitFor } from '../support/waitFor.ts';

const BASE = 24300;
const AGENT_PORT = 24310;
const DYNALITE_PORT = 24390;
const CLUSTER = 'watch';
// The spec's probe period is the default (150 ms); the time limit of one check is longer than
// the default 400 ms so a loaded test machine does not fail healthy checks (the watch would be
// right to wake the probe then, and the no-wake case would be judging the machine).
const PROBE_TIMEOUT_MS = 1_000;
const storeConfig = { table: 'pgvigil-watch-test', region: 'us-east-1', endpoint: `http://127.0.0.1:${DYNALITE_PORT}` };

/**
 * The agent's watch on real PostgreSQL and real agents, dynalite as the store: w1 the primary
 * (its agent a process of its own, so it can be frozen with SIGSTOP), w2 its standby (in process).
 * The cases share the servers and run in order, each leaving the cluster healthy for the next,
 * except the last, which stops the primary.
 */
describe('agent watch: who wakes the probe (real PostgreSQL, real agents, dynalite)', () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;
  let dynalite: DynaliteServer | undefined;
  let w1: ProcessAgent | undefined;
  let w2: TestAgent | undefined;
  let w1Frozen = false;
  const figures: string[] = [];
  const agentUrl = (name: 'w1' | 'w2') => `http://127.0.0.1:${AGENT_PORT + (name === 'w1' ? 0 : 1)}`;

  /** One sample of a series of an agent's /metrics, by its labels (the cluster and node labels ignored). */
  const metric = async (name: 'w1' | 'w2', series: string, labels: Record<string, string> = {}): Promise<number | undefined> => {
    const text = await (await fetch(`${agentUrl(name)}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    for (const line of text.split('\n')) {
      const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
      if (!m || m[1] !== series) continue;
      const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
      if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
    }
    return undefined;
  };
  const checks = async (name: 'w1' | 'w2', outcome: 'ok' | 'failed') => (await metric(name, 'pgvigil_agent_watch_checks_total', { outcome })) ?? 0;
  const wakeOf = async (node: string): Promise<Wake | undefined> => {
    const store = createStore(storeConfig);
    try {
      const r = await readWakes(store, CLUSTER, [node]);
      if (!r.ok) throw new Error(r.reason);
      return r.wakes[0];
    } finally {
      closeStore(store);
    }
  };
  const seqOf = async (node: string) => (await wakeOf(node))?.seq ?? 0;
  const healthy = (name: 'w1' | 'w2') => waitFor(`${name}'s watch to pass its checks`, async () => (await metric(name, 'pgvigil_agent_watch_last_check_ok')) === 1, 60_000);

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-c-watch-');
    const bundle = await bundleAgent(workDir);
    cluster = await createLocalCluster({ workDir, basePort: BASE, names: ['w1', 'w2'], replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    dynalite = await startDynalite({ path: join(workDir, 'dynalite'), port: DYNALITE_PORT });
    const store = createStore(storeConfig);
    const table = await ensureTable(store);
    if (!table.ok) throw new Error(table.reason);
    const spec = ClusterSpec.parse({
      cluster: CLUSTER,
      nodes: cluster.specNodes({ w1: AGENT_PORT, w2: AGENT_PORT + 1 }),
      replication: { mode: 'async', maximumLagOnFailover: 1 << 20 },
      // probeTimeoutMs may not exceed probeIntervalMs × failureThreshold: 150 × 7.
      timing: { probeTimeoutMs: PROBE_TIMEOUT_MS, failureThreshold: 7 },
    });
    const init = await commitDecision(store, CLUSTER, (state) => decide({ type: 'initialize', now: Date.now(), spec, primary: 'w1' }, state));
    closeStore(store);
    if (!init.ok) throw new Error(init.reason);
    await cluster.waitStreaming();
    // The spec names https agent URLs (local mode's, with the host's certificate): the watch checks them over plain HTTP on the same port.
    assert.match(spec.nodes[0]!.agent, /^https:/);
    w1 = await startProcessAgent({ bundle, cluster: CLUSTER, node: cluster.nodes[0]!, bindir: cluster.bindir, osUser: cluster.osUser?.name ?? null, agentPort: AGENT_PORT, workDir, extra: { store: storeConfig, tls: { certFile: cluster.files.serverCert, keyFile: cluster.files.serverKey } } });
    await waitFor("w1's agent to answer", async () => (await fetch(`${agentUrl('w1')}/liveness`, { signal: AbortSignal.timeout(2_000) })).status === 200, 30_000);
    assert.equal(w1.lines().find((l) => l.msg === 'agent listening')?.['tls'], true, "w1's agent serves TLS on its port");
    w2 = await startTestAgent({ cluster: CLUSTER, node: cluster.nodes[1]!, bindir: cluster.bindir, osUser: cluster.osUser, agentPort: AGENT_PORT + 1, workDir, extra: { store: storeConfig } });
  });
  after(async () => {
    if (w1Frozen) w1?.signal('SIGCONT');
    await w2?.close();
    await w1?.stop();
    await dynalite?.stop();
    await cluster?.stopAll();
    await rm(workDir, { recursive: true, force: true });
    for (const f of figures) console.log(f);
  });

  test('everything healthy: no wake from either agent over 30 checks of each', async () => {
    await healthy('w1');
    await healthy('w2');
    const before = { w1: await seqOf('w1'), w2: await seqOf('w2') };
    const failedBefore = { w1: await checks('w1', 'failed'), w2: await checks('w2', 'failed') };
    const okBefore = { w1: await checks('w1', 'ok'), w2: await checks('w2', 'ok') };
    await waitFor('30 more checks on each agent', async () => (await checks('w1', 'ok')) >= okBefore.w1 + 30 && (await checks('w2', 'ok')) >= okBefore.w2 + 30, 60_000);
    assert.deepEqual({ w1: await checks('w1', 'failed'), w2: await checks('w2', 'failed') }, failedBefore, 'no check failed');
    assert.deepEqual({ w1: await seqOf('w1'), w2: await seqOf('w2') }, before, 'no wake was written');
  });

  test("the primary's agent stops answering (SIGSTOP): the standby's agent wakes the probe, naming it", async () => {
    const seq = await seqOf('w2');
    const woken = (await metric('w2', 'pgvigil_agent_wakes_total', { reason_kind: 'primary_agent_unreachable' })) ?? 0;
    const frozenAt = performance.now();
    w1!.signal('SIGSTOP');
    w1Frozen = true;
    try {
      const wake = await waitFor("w2's wake", async () => {
        const w = await wakeOf('w2');
        return w && w.seq > seq ? w : undefined;
      });
      figures.push(`w1's agent frozen: w2's wake read back ${Math.round(performance.now() - frozenAt)} ms later (check limit ${PROBE_TIMEOUT_MS} ms)`);
      assert.equal(wake.node, 'w2');
      assert.equal(wake.reason, `w2: primary w1's agent did not answer /primary within ${PROBE_TIMEOUT_MS} ms`);
      await waitFor("w2's wake counted", async () => ((await metric('w2', 'pgvigil_agent_wakes_total', { reason_kind: 'primary_agent_unreachable' })) ?? 0) > woken);
      assert.equal(await metric('w2', 'pgvigil_agent_watch_last_check_ok'), 0);
    } finally {
      w1!.signal('SIGCONT');
      w1Frozen = false;
    }
    // Thawed: the next check passes, and that ends the episode.
    await healthy('w2');
  });

  test('a wake the store cannot take is warned once and written at a failing check once the store is back', async () => {
    const seq = await seqOf('w2');
    const warning = 'watch: the wake could not be written: retried at the next failing check';
    const warned = () => w2!.lines.filter((l) => l.msg === warning).length;
    const warnedBefore = warned();
    await dynalite!.stop();
    dynalite = undefined;
    w1!.signal('SIGSTOP');
    w1Frozen = true;
    try {
      const failed = await checks('w2', 'failed');
      await waitFor('the refused wake to be warned', () => warned() > warnedBefore);
      await waitFor('3 more failing checks', async () => (await checks('w2', 'failed')) >= failed + 3);
      assert.equal(warned(), warnedBefore + 1, 'warned once for the episode, however many puts failed');
      dynalite = await startDynalite({ path: join(workDir, 'dynalite'), port: DYNALITE_PORT });
      const wake = await waitFor("w2's wake, once the store is back", async () => {
        const w = await wakeOf('w2');
        return w && w.seq > seq ? w : undefined;
      });
      assert.equal(wake.reason, `w2: primary w1's agent did not answer /primary within ${PROBE_TIMEOUT_MS} ms`);
    } finally {
      w1!.signal('SIGCONT');
      w1Frozen = false;
      dynalite ??= await startDynalite({ path: join(workDir, 'dynalite'), port: DYNALITE_PORT });
    }
    await healthy('w1');
    await healthy('w2');
  });

  test('checks that keep failing wake at most once per 2 s, not once per check (the standby stopped)', async () => {
    const seq = await seqOf('w2');
    const failed = await checks('w2', 'failed');
    const from = performance.now();
    const stop = await cluster!.stop('w2', 'fast');
    assert.ok(stop.ok, stop.ok ? '' : stop.reason);
    try {
      // PostgreSQL stopped is seen without a connection: each check takes next to nothing, so
      // 30 failing checks come in about 30 probe periods.
      await waitFor('30 failing checks', async () => (await checks('w2', 'failed')) >= failed + 30, 60_000);
      const elapsed = performance.now() - from;
      const wake = await wakeOf('w2');
      const wakes = (wake?.seq ?? 0) - seq;
      figures.push(`w2 stopped: ${wakes} wakes over 30 failing checks in ${Math.round(elapsed)} ms`);
      assert.match(wake?.reason ?? '', /^w2: a standby in the log: PostgreSQL is stopped/);
      assert.ok(wakes >= 1, 'the first failing check woke the probe');
      // The spacing: one at the first failure, then one per 2 s at most, over the span measured here.
      assert.ok(wakes <= 1 + Math.floor(elapsed / 2_000), `${wakes} wakes over ${Math.round(elapsed)} ms`);
      assert.ok(wakes < 30, `${wakes} wakes for 30 failing checks`);
    } finally {
      const start = await cluster!.start('w2');
      assert.ok(start.ok, start.ok ? '' : start.reason);
    }
    await cluster!.waitStreaming({ names: ['w2'] });
    await healthy('w2');
  });

  test("the primary's PostgreSQL stopped immediately: its own agent wakes the probe, naming it", async () => {
    const seq = await seqOf('w1');
    const stoppedAt = performance.now();
    const stop = await cluster!.stop('w1', 'immediate');
    assert.ok(stop.ok, stop.ok ? '' : stop.reason);
    const wake = await waitFor("w1's wake", async () => {
      const w = await wakeOf('w1');
      return w && w.seq > seq ? w : undefined;
    });
    figures.push(`w1's PostgreSQL stopped with pg_ctl -m immediate: its own agent's wake read back ${Math.round(performance.now() - stoppedAt)} ms after the stop was asked`);
    assert.equal(wake.node, 'w1');
    // The first failing check may come while the immediate stop is still under way: stopping, or refusing.
    assert.match(wake.reason, /^w1: the log's primary: PostgreSQL is (stopped|stopping|unknown)/);
    // Counted once the agent has the store's answer, which may be just after the item is readable.
    await waitFor("w1's wake counted", async () => ((await metric('w1', 'pgvigil_agent_wakes_total', { reason_kind: 'postgres_down' })) ?? 0) >= 1);
    // Its standby's agent sees the same from outside: w1's agent answers /primary 503.
    const w2Wake = await waitFor("w2's wake about w1", async () => {
      const w = await wakeOf('w2');
      return w && /primary w1's agent answered \/primary 503/.test(w.reason) ? w : undefined;
    });
    assert.equal(w2Wake.node, 'w2');
  });
});
