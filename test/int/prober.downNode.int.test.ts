import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeObservation } from '../../lib/domain/observation.ts';
import { parseClusterSpec, staleAfterMs, type ClusterSpec } from '../../lib/domain/spec.ts';
import { Prober } from '../../lib/probe/prober.ts';
import { OBSERVATION_WINDOW_MS, readObservations } from '../../lib/store/observations.ts';
import { freshCluster, startStoreFixture, type StoreFixture } from '../support/storeFixture.ts';

const T0 = 1_760_000_000_000;

/** Three nodes nothing listens on (refused at once), as the demo deployed without its hosts probes. */
function downCluster(name: string): ClusterSpec {
  const parsed = parseClusterSpec({
    cluster: name,
    nodes: [1, 2, 3].map((i) => ({ name: `pg${i}`, host: '127.0.0.1', port: 21_900 + i, agent: `http://127.0.0.1:${21_910 + i}` })),
  });
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

describe('a node that stays down, on dynalite', () => {
  let fx: StoreFixture;
  before(async () => {
    fx = await startStoreFixture({ port: 21_890 });
  });
  after(async () => {
    await fx?.stop();
  });

  test('is written as it goes down, when the failure window passes, and at the heartbeat: not every round', async () => {
    const spec = downCluster(freshCluster('down'));
    const { probeIntervalMs, heartbeatMs, failureThreshold } = spec.timing;
    let now = T0;
    const prober = new Prober({ store: fx.store, prober: 'probe-test', clock: () => now });
    const minute = 60_000;
    const rounds = minute / probeIntervalMs;
    let written = 0;
    for (let i = 0; i < rounds; i++) {
      const r = await prober.round(spec, null);
      assert.equal(r.storeError, null);
      assert.ok(r.observations.every((o) => !o.reachable && o.error?.kind === 'refused'), 'nothing listens there');
      written += r.written;
      now += probeIntervalMs;
    }
    const read = await readObservations(fx.store, spec.cluster, 0, now);
    if (!read.ok) throw new Error(read.reason);
    const stored: NodeObservation[] = read.observations;
    for (const node of ['pg1', 'pg2', 'pg3']) {
      const mine = stored.filter((o) => o.node === node);
      // Counts 1..threshold, the failure window passing, then one per heartbeat.
      const bound = failureThreshold + 1 + Math.ceil(minute / heartbeatMs);
      assert.ok(mine.length <= bound, `${node}: ${mine.length} writes in ${rounds} rounds, at most ${bound}`);
      assert.deepEqual(
        mine.slice(0, failureThreshold).map((o) => o.consecutiveFailures),
        Array.from({ length: failureThreshold }, (_, k) => k + 1),
        'each count up to the threshold is written as it happens',
      );
      const newest = mine.at(-1)!;
      assert.ok(newest.consecutiveFailures > failureThreshold, 'the stored node is failed, past the window');
      assert.ok(now - newest.at < staleAfterMs(spec.timing), 'and never stale: the heartbeat keeps it fresh for the decider');
    }
    assert.equal(written, stored.length);
    console.log(`down node writes_per_node_per_minute=${(written / 3).toFixed(1)} rounds=${rounds}`);

    // What decide reads on each run: the last OBSERVATION_WINDOW_MS, a few items per node,
    // whatever the probe rate (it was one item per node per round: 400 a minute each).
    const window = await readObservations(fx.store, spec.cluster, now - OBSERVATION_WINDOW_MS, now);
    if (!window.ok) throw new Error(window.reason);
    const perNode = window.observations.length / 3;
    assert.ok(perNode <= failureThreshold + 1 + Math.ceil(OBSERVATION_WINDOW_MS / heartbeatMs), `decide reads ${perNode} items per node`);
  });
});
