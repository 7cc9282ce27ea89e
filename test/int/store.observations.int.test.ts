import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { NodeObservation } from '../../lib/domain/observation.ts';
import { renewLease, readLeases } from '../../lib/store/leases.ts';
import { latestObservations, pruneObservations, putObservation, readObservations } from '../../lib/store/observations.ts';
import { leaseKey, observationKey } from '../../lib/store/sortKeys.ts';
import { leasePartition, observationsPartition } from '../../lib/store/partitions.ts';
import { freshCluster, startStoreFixture, type StoreFixture } from '../support/storeFixture.ts';

const T0 = 1_760_000_000_000;

function observation(cluster: string, node: string, prober: string, at: number, reachable = true): NodeObservation {
  return {
    v: 1,
    cluster,
    node,
    prober,
    at,
    reachable,
    error: reachable ? null : { kind: 'refused', message: 'connect ECONNREFUSED 127.0.0.1:5433' },
    consecutiveFailures: reachable ? 0 : 1,
    failingSince: reachable ? null : at,
    role: reachable ? 'standby' : 'unknown',
    systemIdentifier: reachable ? '7301234567890123456' : null,
    foreign: false,
    timeline: reachable ? 1 : null,
    walLsn: null,
    receiveLsn: reachable ? '0/3000148' : null,
    replayLsn: reachable ? '0/3000148' : null,
    lagBytes: reachable ? 0 : null,
    lagSeconds: reachable ? 0 : null,
    lastKnownWalLsn: null,
    lastKnownWalAt: null,
    lastKnownTimeline: null,
    walReceiver: reachable ? { status: 'streaming', upstream: 'alpha', senderHost: '127.0.0.1', senderPort: 5432, lastMsgReceiptAt: at } : null,
    receiverSince: reachable ? at : null,
    replication: [],
    // PostgreSQL reports an empty setting as '': it must survive the round trip.
    synchronousStandbyNames: '',
    lease: null,
  };
}

describe('observations and leases on dynalite', () => {
  let fx: StoreFixture;
  before(async () => {
    fx = await startStoreFixture();
  });
  after(async () => {
    await fx?.stop();
  });

  test('observations round-trip, read by time window across pages, newest per node, pruned by age', async () => {
    const cluster = freshCluster('obs');
    const written: NodeObservation[] = [];
    for (let round = 0; round < 10; round++) {
      for (const node of ['alpha', 'beta', 'gamma']) {
        for (const prober of ['probe-a', 'probe-b']) {
          const obs = observation(cluster, node, prober, T0 + round * 1000 + (prober === 'probe-b' ? 7 : 0), !(node === 'gamma' && round >= 8));
          assert.deepEqual(await putObservation(fx.store, obs, 60_000), { ok: true });
          written.push(obs);
        }
      }
    }
    const all = await readObservations(fx.store, cluster, T0, T0 + 9_999, { pageSize: 7 });
    assert.ok(all.ok);
    assert.deepEqual(all.unreadable, []);
    assert.equal(all.observations.length, 60);
    const asText = (list: NodeObservation[]) => list.map((o) => JSON.stringify(o)).sort();
    assert.deepEqual(asText(all.observations), asText(written), 'every observation comes back as written');
    assert.deepEqual(
      all.observations.map((o) => o.at),
      [...written.map((o) => o.at)].sort((a, b) => a - b),
      'oldest first',
    );
    assert.deepEqual(all.observations.find((o) => o.node === 'beta' && o.at === T0 + 3007), written.find((o) => o.node === 'beta' && o.at === T0 + 3007));

    // Both ends of the window are inclusive.
    const window = await readObservations(fx.store, cluster, T0 + 2000, T0 + 3007, { pageSize: 2 });
    assert.ok(window.ok);
    assert.deepEqual([...new Set(window.observations.map((o) => o.at))], [T0 + 2000, T0 + 2007, T0 + 3000, T0 + 3007]);

    const latest = await latestObservations(fx.store, cluster, T0 + 5000, { pageSize: 4 });
    assert.ok(latest.ok);
    assert.deepEqual(latest.observations.map((o) => [o.node, o.prober, o.at, o.reachable]), [
      ['alpha', 'probe-b', T0 + 9007, true],
      ['beta', 'probe-b', T0 + 9007, true],
      ['gamma', 'probe-b', T0 + 9007, false],
    ]);

    const pruned = await pruneObservations(fx.store, cluster, T0 + 5000, { pageSize: 9 });
    assert.deepEqual(pruned, { ok: true, deleted: 30 });
    const left = await readObservations(fx.store, cluster, 0, T0 + 100_000);
    assert.ok(left.ok);
    assert.equal(left.observations.length, 30);
    assert.ok(left.observations.every((o) => o.at >= T0 + 5000));
  });

  test('an unparseable observation is reported with its key, the others still read', async () => {
    const cluster = freshCluster('badobs');
    assert.deepEqual(await putObservation(fx.store, observation(cluster, 'alpha', 'p', T0), 60_000), { ok: true });
    const sk = observationKey(T0 + 1, 'beta', 'p');
    await fx.store.doc.send(new PutCommand({ TableName: fx.store.table, Item: { cluster: observationsPartition(cluster), sk, v: 1, node: 'beta', at: 'yesterday' } }));
    const read = await readObservations(fx.store, cluster, T0, T0 + 10);
    assert.ok(read.ok);
    assert.equal(read.observations.length, 1);
    assert.deepEqual(read.unreadable.map((u) => u.key), [{ cluster: observationsPartition(cluster), sk }]);
    assert.match(read.unreadable[0]?.error ?? '', /observation O#.*beta/);
  });

  test('an observation that fails its schema is refused before writing', async () => {
    const cluster = freshCluster('refuse');
    const bad = { ...observation(cluster, 'alpha', 'p', T0), walLsn: 'not-an-lsn' };
    const r = await putObservation(fx.store, bad, 60_000);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /walLsn/);
  });

  test('leases: created once, renewed on the expected version, conflicts answer the current lease', async () => {
    const cluster = freshCluster('lease');
    const req = { cluster, node: 'alpha', term: 1, holder: 'agent-alpha' };
    assert.deepEqual(await renewLease(fx.store, req, null), { ok: true, version: 1 });
    const again = await renewLease(fx.store, { ...req, holder: 'intruder' }, null);
    assert.ok(!again.ok && again.conflict && again.current?.holder === 'agent-alpha' && again.current.version === 1);
    assert.deepEqual(await renewLease(fx.store, req, 1), { ok: true, version: 2 });
    const stale = await renewLease(fx.store, req, 1);
    assert.ok(!stale.ok && stale.conflict && stale.current?.version === 2);
    const missing = await renewLease(fx.store, { ...req, node: 'beta' }, 4);
    assert.deepEqual(missing, { ok: false, conflict: true, current: null });

    // Two agents racing on the same version: exactly one wins.
    const race = await Promise.all([renewLease(fx.store, { ...req, term: 2 }, 2), renewLease(fx.store, { ...req, term: 3 }, 2)]);
    assert.equal(race.filter((r) => r.ok).length, 1);
  });

  test('leases of the named nodes are read, each from its own partition; a node without a lease is left out', async () => {
    const cluster = freshCluster('leases');
    const nodes = Array.from({ length: 11 }, (_, i) => `node-${i}`);
    for (const node of nodes) assert.deepEqual(await renewLease(fx.store, { cluster, node, term: 1, holder: `agent-${node}` }, null), { ok: true, version: 1 });
    const read = await readLeases(fx.store, cluster, [...nodes, 'never-started']);
    assert.ok(read.ok);
    assert.deepEqual(read.leases.map((l) => l.node).sort(), [...nodes].sort());
    assert.deepEqual(read.unreadable, []);
  });

  test('each writer\'s items lie in its own partition, which is what IAM scopes (dynamodb:LeadingKeys): none in the decision log\'s', async () => {
    const cluster = freshCluster('domains');
    assert.deepEqual(await putObservation(fx.store, observation(cluster, 'alpha', 'p', T0), 60_000), { ok: true });
    assert.deepEqual(await renewLease(fx.store, { cluster, node: 'alpha', term: 1, holder: 'agent-alpha' }, null), { ok: true, version: 1 });
    const keysIn = async (partition: string) =>
      ((await fx.store.doc.send(new QueryCommand({ TableName: fx.store.table, KeyConditionExpression: '#c = :c', ExpressionAttributeNames: { '#c': 'cluster' }, ExpressionAttributeValues: { ':c': partition } }))).Items ?? []).map((i) => String(i['sk']));
    assert.deepEqual(await keysIn(cluster), []);
    assert.deepEqual(await keysIn(observationsPartition(cluster)), [observationKey(T0, 'alpha', 'p')]);
    assert.deepEqual(await keysIn(leasePartition(cluster, 'alpha')), [leaseKey('alpha')]);
    // Read back, an observation names its cluster, not its partition.
    const read = await latestObservations(fx.store, cluster, T0);
    assert.ok(read.ok);
    assert.equal(read.observations[0]?.cluster, cluster);
  });
});
