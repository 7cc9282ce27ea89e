import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { decide } from '../../lib/domain/decide.ts';
import { ClusterSpec } from '../../lib/domain/spec.ts';
import { commitDecision } from '../../lib/store/commitDecision.ts';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { startDynalite, type DynaliteServer } from '../../lib/local/dynaliteServer.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { readLeases } from '../../lib/store/leases.ts';
import { closeStore, createStore } from '../../lib/store/store.ts';
import { ensureTable } from '../../lib/store/table.ts';
import { leaseRenewEveryMs } from '../../lib/agent/lease.ts';
import { startTestAgent, type TestAgent } from '../support/agentHarness.ts';
import { StoreRelay, type SeenRenewal } from '../support/storeRelay.ts';
import { waitFor } from '../support/waitFor.ts';

const BASE = 24200;
const AGENT_PORT = 24210;
const DYNALITE_PORT = 24290;
const RELAY_PORT = 24291;
// The default TTL and the cadence local mode and the stack give the agent for it.
const TTL_MS = 3_000;
const RENEW_MS = leaseRenewEveryMs(TTL_MS);
const direct = { table: 'pgvigil-cadence-test', region: 'us-east-1', endpoint: `http://127.0.0.1:${DYNALITE_PORT}` };

/**
 * The primary's lease cadence, TTL / 2, with its retry (lib/agent/leaseRetry.ts): the agent
 * reaches the store through a relay that can fail one renewal. Its only standby is stopped, so
 * a lapse of the lease would stop the primary: serving on proves the retry landed in time.
 */
describe('the primary renews every TTL / 2 and retries a failed renewal at once (real PostgreSQL, dynalite)', () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;
  let dynalite: DynaliteServer | undefined;
  let relay: StoreRelay | undefined;
  let agent: TestAgent | undefined;
  let selfFenceMs: number | undefined;
  const logged = (msg: string) => agent!.lines.filter((l) => l.msg === msg);
  const metric = async (name: string, outcome?: string) => {
    const text = await (await fetch(`${agent!.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && (outcome === undefined || l.includes(`outcome="${outcome}"`)));
    return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  /** c1's renewals the relay passed on to the store (each one that landed), in order. */
  const landed = () => relay!.renewals.filter((r) => r.node === 'c1' && r.fate === 'passed');
  const renewalAfter = (at: number) => waitFor(`a renewal of c1 landing after ${at}`, () => landed().find((r) => r.renewedAt > at), 20_000);
  const primaryServes = async () => {
    await sqlOnce(BASE, 'INSERT INTO t VALUES (1)');
    assert.equal(logged('self-fencing: stopping PostgreSQL').length, 0, 'the agent never began to stop PostgreSQL');
    assert.equal(agent!.lines.some((l) => l.msg.startsWith('lease lapsed')), false, 'the lease never lapsed');
  };

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-c-cadence-');
    cluster = await createLocalCluster({ workDir, basePort: BASE, names: ['c1', 'c2'], replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    dynalite = await startDynalite({ port: DYNALITE_PORT });
    const store = createStore(direct);
    const table = await ensureTable(store);
    if (!table.ok) throw new Error(table.reason);
    const spec = ClusterSpec.parse({ cluster: 'cadence', nodes: cluster.specNodes(), replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    const init = await commitDecision(store, 'cadence', (state) => decide({ type: 'initialize', now: Date.now(), spec, primary: 'c1' }, state));
    closeStore(store);
    if (!init.ok) throw new Error(init.reason);
    // No standby streams: past a lapse the agent's rule stops the primary.
    assert.equal((await cluster.stop('c2')).ok, true);
    relay = new StoreRelay({ host: '127.0.0.1', port: DYNALITE_PORT });
    await relay.listen(RELAY_PORT);
    agent = await startTestAgent({
      cluster: 'cadence',
      node: cluster.nodes[0]!,
      bindir: cluster.bindir,
      osUser: cluster.osUser,
      agentPort: AGENT_PORT,
      workDir,
      extra: { store: { ...direct, endpoint: `http://127.0.0.1:${RELAY_PORT}` }, lease: { ttlMs: TTL_MS, renewEveryMs: RENEW_MS } },
    });
    await sqlOnce(BASE, 'CREATE TABLE t (v int)');
    await waitFor("the lease naming c2, the member the agent counts", async () => {
      const s = createStore(direct);
      const read = await readLeases(s, 'cadence', ['c1']);
      closeStore(s);
      return read.ok && JSON.stringify(read.leases[0]?.members) === '["c2"]';
    });
  });
  after(async () => {
    await agent?.close();
    await relay?.close();
    await dynalite?.stop();
    await cluster?.stopAll();
    if (selfFenceMs !== undefined) console.log(`# self-fence: primary stopped ${selfFenceMs} ms after the store went away (TTL ${TTL_MS} ms, renew every ${RENEW_MS} ms)`);
    await rm(workDir, { recursive: true, force: true });
  });

  test('a primary renews at TTL / 2: renewals counted over a span of the lease\'s own timestamps', async () => {
    assert.equal(RENEW_MS, TTL_MS / 2);
    const first = await renewalAfter(Date.now());
    const COUNT = 8;
    const last = await waitFor(`${COUNT} renewals after version ${first.version}`, () => landed().find((r) => r.version === first.version + COUNT), 60_000);
    const between = relay!.renewals.filter((r) => r.node === 'c1' && r.renewedAt >= first.renewedAt && r.renewedAt <= last.renewedAt);
    assert.ok(between.every((r) => r.fate === 'passed') && between.length === COUNT + 1, 'one request per renewal, none failed');
    // Renewals go out on a timer never early: COUNT periods take at least COUNT × RENEW_MS, less
    // how late the first was sent after its tick (under half a period). At the old TTL / 3 they
    // would take a third less. Load may slow them, up to twice the period here.
    const span = last.renewedAt - first.renewedAt;
    assert.ok(span >= COUNT * RENEW_MS - RENEW_MS / 2, `${COUNT} renewals in ${span} ms: faster than every ${RENEW_MS} ms`);
    assert.ok(span <= COUNT * RENEW_MS * 2, `${COUNT} renewals in ${span} ms: slower than every ${2 * RENEW_MS} ms`);
    // The primary's lease stands by the TTL itself.
    const s = createStore(direct);
    const read = await readLeases(s, 'cadence', ['c1']);
    closeStore(s);
    assert.ok(read.ok);
    assert.equal(read.leases[0]?.ttlMs, TTL_MS);
  });

  for (const how of ['error', 'hang'] as const) {
    test(`one renewal ${how === 'error' ? 'answered with a store error' : 'left hanging'} is retried before the next period, and the primary keeps serving`, async () => {
      const retriesBefore = await metric('pgvigil_lease_renewal_retries_total');
      const failedBefore = await metric('pgvigil_lease_renewals_total', 'failed');
      relay!.renewals.length = 0;
      relay!.cutNextRenewal('c1', how);
      const cut: SeenRenewal = await waitFor('the relay to cut a renewal', () => relay!.cutRenewal());
      const retry = await renewalAfter(cut.renewedAt);
      // The retry writes the version the cut one would have (it never landed), well before the
      // period after the cut one: the backoff is 100 ms, a hung request's deadline a third of
      // the TTL's slack (500 ms).
      assert.equal(retry.version, cut.version);
      assert.ok(retry.renewedAt - cut.renewedAt < RENEW_MS, `retried ${retry.renewedAt - cut.renewedAt} ms after the cut renewal, not before the next period (${RENEW_MS} ms)`);
      assert.equal(await metric('pgvigil_lease_renewal_retries_total'), retriesBefore + 1);
      assert.equal(await metric('pgvigil_lease_renewals_total', 'failed'), failedBefore + 1);
      await primaryServes();
      assert.equal(agent!.lease?.snapshot().selfFenced, false);
    });
  }

  test('the store down past the TTL: the primary stops itself, as before', async () => {
    const pid = await cluster!.postmasterPid('c1');
    assert.notEqual(pid, null);
    relay!.renewals.length = 0;
    const cut = Date.now();
    relay!.setDown(true);
    await waitFor('the primary to stop', async () => (await cluster!.postmasterPid('c1')) === null, 30_000);
    selfFenceMs = Date.now() - cut;
    const line = await waitFor('the agent to log why it stopped PostgreSQL', () => logged('self-fenced: PostgreSQL stopped')[0], 10_000);
    assert.match(String(line['why']), new RegExp(`^lease not renewed for \\d+ ms \\(TTL ${TTL_MS} ms\\) and c2 of the spec's standbys \\(c2\\) does not stream from this primary`));
    const since = Number(/not renewed for (\d+) ms/.exec(String(line['why']))![1]);
    assert.ok(since >= TTL_MS, `stopped ${since} ms after the last renewal sent, not before the TTL`);
    // Retried within the TTL, as many times as the backoff allows, before the lapse.
    const tries = new Set(relay!.renewals.filter((r) => r.node === 'c1').map((r) => r.renewedAt));
    assert.ok(tries.size >= 3, `${tries.size} renewals tried during the outage`);
    const st = agent!.lease!.snapshot();
    assert.equal(st.selfFenced, true);
  });
});
