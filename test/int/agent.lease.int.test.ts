import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { callAgent } from '../../lib/agent/agentClient.ts';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { startDynalite, type DynaliteServer } from '../../lib/local/dynaliteServer.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { readLeases } from '../../lib/store/leases.ts';
import { closeStore, createStore } from '../../lib/store/store.ts';
import { ensureTable } from '../../lib/store/table.ts';
import { startTestAgent, TEST_KEY, type TestAgent } from '../support/agentHarness.ts';
import { waitFor } from '../support/waitFor.ts';

const BASE = 15540;
const AGENT_PORT = 15550;
const DYNALITE_PORT = 15590;
const TTL_MS = 1_500;
const RENEW_MS = 250;
/** The control plane's wait before it treats a lapsed lease as a fence (spec: fenceWaitMs = TTL + margin). */
const FENCE_WAIT_MS = TTL_MS + 1_500;
const storeConfig = { table: 'pgvigil-lease-test', region: 'us-east-1', endpoint: `http://127.0.0.1:${DYNALITE_PORT}` };

describe('agent lease and self-fencing (real PostgreSQL, dynalite)', () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;
  let dynalite: DynaliteServer | undefined;
  let agent: TestAgent | undefined;
  let selfFenceMs: number | undefined;

  const startStore = async () => {
    dynalite = await startDynalite({ path: join(workDir, 'dynalite'), port: DYNALITE_PORT });
  };
  const stopStore = async () => {
    await dynalite?.stop();
    dynalite = undefined;
  };
  const logged = (msg: string | RegExp) => agent!.lines.some((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg)));

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-c-lease-');
    cluster = await createLocalCluster({ workDir, basePort: BASE, names: ['l1', 'l2'], replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    await startStore();
    const store = createStore(storeConfig);
    const table = await ensureTable(store);
    closeStore(store);
    if (!table.ok) throw new Error(table.reason);
    agent = await startTestAgent({
      cluster: 'lease',
      node: cluster.nodes[0]!,
      bindir: cluster.bindir,
      osUser: cluster.osUser,
      agentPort: AGENT_PORT,
      workDir,
      extra: { store: storeConfig, lease: { ttlMs: TTL_MS, renewEveryMs: RENEW_MS } },
    });
    await sqlOnce(BASE, 'CREATE TABLE t (v int)');
  });
  after(async () => {
    await agent?.close();
    await stopStore();
    await cluster?.stopAll();
    if (selfFenceMs !== undefined) console.log(`# self-fence: primary stopped ${selfFenceMs} ms after the store went away (TTL ${TTL_MS} ms, renew every ${RENEW_MS} ms)`);
    await rm(workDir, { recursive: true, force: true });
  });

  test('the agent holds and renews its lease in the store', async () => {
    await waitFor('a renewed lease', () => (agent!.lease?.snapshot().version ?? 0) >= 2);
    const store = createStore(storeConfig);
    const leases = await readLeases(store, 'lease');
    closeStore(store);
    assert.ok(leases.ok);
    assert.equal(leases.leases[0]?.node, 'l1');
    assert.ok((leases.leases[0]?.version ?? 0) >= 2);
  });

  test('store unreachable while a standby streams: the primary keeps accepting writes', async () => {
    await stopStore();
    await waitFor('the agent to notice the lapse and keep serving', () => logged(/^lease lapsed; keeping PostgreSQL serving because standbys stream from it: l2/), 10_000);
    await sqlOnce(BASE, 'INSERT INTO t VALUES (1)');
    assert.notEqual(await cluster!.postmasterPid('l1'), null);
    assert.equal((await callAgent(agent!.target, TEST_KEY, 'status', {}))['fenced'], null);
  });

  test('the store back: the lease is renewed again', async () => {
    await startStore();
    await waitFor('the lease renewed again', () => logged('lease renewed again'), 10_000);
    await sqlOnce(BASE, 'INSERT INTO t VALUES (2)');
  });

  test('store unreachable and no standby streaming: the primary stops itself before the control plane would promote', async () => {
    assert.equal((await cluster!.stop('l2')).ok, true);
    await waitFor('no standby streaming from l1', async () => {
      const rows = await sqlOnce(BASE, "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'");
      return rows.length === 0;
    });
    const cut = Date.now();
    await stopStore();
    await waitFor('the primary to stop', async () => (await cluster!.postmasterPid('l1')) === null, FENCE_WAIT_MS);
    selfFenceMs = Date.now() - cut;
    // The log line follows pg_ctl's return, which may come a moment after the postmaster is gone.
    const line = await waitFor('the agent to log why it stopped PostgreSQL', () => agent!.lines.find((l) => l.msg === 'self-fenced: PostgreSQL stopped'), 5_000);
    assert.match(String(line['why']), /no standby streams from this primary/);
    const st = await callAgent(agent!.target, TEST_KEY, 'status', {});
    assert.equal(st['role'], 'stopped');
    assert.match((st['fenced'] as { why: string }).why, /^self-fenced/);
  });

  test('a promote of the same term brings back the primary that stopped itself; a fence by the control plane is never lifted so', async () => {
    const st = await callAgent(agent!.target, TEST_KEY, 'status', {});
    const term = (st['fenced'] as { term: number }).term;
    // The control plane asks again only while the agent renews its lease: the store is back.
    const renewals = () => agent!.lines.filter((l) => l.msg === 'lease renewed again').length;
    const before = renewals();
    await startStore();
    await waitFor('the lease renewed again', () => renewals() > before, 10_000);
    const back = await callAgent(agent!.target, TEST_KEY, 'promote', { term });
    assert.equal(back.ok, true, back.reason);
    assert.match(back.reason, /restarted as primary of term/);
    const [row] = await sqlOnce<{ recovery: boolean }>(BASE, 'SELECT pg_is_in_recovery() AS recovery');
    assert.equal(row!.recovery, false);
    await sqlOnce(BASE, 'INSERT INTO t VALUES (3)');
    assert.equal((await callAgent(agent!.target, TEST_KEY, 'status', {}))['fenced'], null, 'the self-fence is lifted');

    const fenced = await callAgent(agent!.target, TEST_KEY, 'fence', { term });
    assert.equal(fenced.ok, true, fenced.reason);
    const again = await callAgent(agent!.target, TEST_KEY, 'promote', { term });
    assert.equal(again.ok, false);
    assert.match(again.reason, /not running here \(fenced at term/);
    assert.equal(await cluster!.postmasterPid('l1'), null, 'the control plane\'s fence holds');
  });
});
