import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decideOnce } from '../../lib/control/decideOnce.ts';
import type { ControlPlane } from '../../lib/control/controlPlane.ts';
import { parseLambdaEnv, type LambdaEnv } from '../../lib/control/lambdaEnv.ts';
import { handleProbeEvent } from '../../lib/control/probeHandler.ts';
import { silentLog } from '../../lib/log.ts';
import { makeSpec } from '../unit/domain/kit.ts';
import { freshCluster, startStoreFixture, type StoreFixture } from '../support/storeFixture.ts';

// The on-wake probe's door for decide (lib/control/probeHandler.ts), on dynalite, against nodes
// that refuse connections (ports nothing listens on): such a cluster never settles, so what ends
// a run is the caller's bound, or the invocation's.
describe('the probe started by decide', () => {
  let f: StoreFixture;
  before(async () => {
    f = await startStoreFixture({ port: 24981 });
  });
  after(async () => {
    await f?.stop();
  });

  const deployed = async () => {
    const cluster = freshCluster('probe');
    const spec = makeSpec({ cluster, nodes: ['pg1', 'pg2', 'pg3'].map((name, i) => ({ name, host: '127.0.0.1', port: 24591 + i, agent: `http://127.0.0.1:${24594 + i}` })) });
    const cp: ControlPlane = { store: f.store, agentKey: Buffer.alloc(32, 7), endpoints: null, log: silentLog, decider: 'test', clock: () => Date.now(), awaitActions: false };
    const init = await decideOnce(cp, cluster, { type: 'initialize', now: Date.now(), spec, primary: 'pg1' });
    assert.ok(init.ok);
    const env = parseLambdaEnv({ PGVIGIL_TABLE: f.store.table, PGVIGIL_CLUSTERS: JSON.stringify([spec]), PGVIGIL_PROBE_CADENCE: 'on-wake' });
    assert.ok(env.ok);
    return { cluster, env: env.value as LambdaEnv };
  };

  test("a run decide waits for ends at its maxMs when the cluster does not settle, saying what it watched", async () => {
    const d = await deployed();
    const r = await handleProbeEvent({ source: 'pgvigil.decide', cluster: d.cluster, reasons: ['an operator command found no fresh observation'], maxMs: 1_000 }, d.env, { store: f.store, log: silentLog, prober: 'test-1', until: Date.now() + 30_000 });
    assert.deepEqual(r.clusters, [d.cluster]);
    assert.deepEqual(r.woken, ['an operator command found no fresh observation']);
    // 150 ms rounds: about 7 in 1 s, some 200 had it run to `until`.
    assert.ok(r.rounds >= 2 && r.rounds < 30, `rounds ${r.rounds}`);
    assert.match(r.watched ?? '', /pg1 does not answer and the log has not declared it down/);
    assert.ok(r.written > 0, 'it wrote what it saw');
  });

  test('a start for a cluster this deployment does not probe probes nothing', async () => {
    const d = await deployed();
    const r = await handleProbeEvent({ source: 'pgvigil.decide', cluster: 'elsewhere', reasons: [] }, d.env, { store: f.store, log: silentLog, prober: 'test-2', until: Date.now() + 30_000 });
    assert.equal(r.rounds, 0);
    assert.deepEqual(r.clusters, []);
  });
});
