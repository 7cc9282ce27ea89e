import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { settleClaim, takeClaim } from '../../lib/store/claims.ts';
import { readDecisions } from '../../lib/store/decisionLog.ts';
import { freshCluster, startStoreFixture, type StoreFixture } from '../support/storeFixture.ts';

describe('claims on dynalite', () => {
  let fx: StoreFixture;
  before(async () => {
    fx = await startStoreFixture();
  });
  after(async () => {
    await fx?.stop();
  });

  test('given a claim held by one owner, when another asks before the hold runs out, then it is refused; after, it is taken', async () => {
    const cluster = freshCluster('claim');
    assert.deepEqual(await takeClaim(fx.store, cluster, 'A#i-1', { owner: 'a', now: 1_000, holdMs: 500 }), { ok: true, claimed: true });
    assert.deepEqual(await takeClaim(fx.store, cluster, 'A#i-1', { owner: 'b', now: 1_400, holdMs: 500 }), { ok: true, claimed: false, done: false, until: 1_500 });
    assert.deepEqual(await takeClaim(fx.store, cluster, 'A#i-1', { owner: 'b', now: 1_501, holdMs: 500 }), { ok: true, claimed: true });
    // The first owner, come back late, cannot settle what is now b's.
    assert.deepEqual(await settleClaim(fx.store, cluster, 'A#i-1', 'a', 'done'), { ok: true });
    assert.deepEqual(await takeClaim(fx.store, cluster, 'A#i-1', { owner: 'c', now: 1_600, holdMs: 500 }), { ok: true, claimed: false, done: false, until: 2_001 });
  });

  test('given a claim settled done, when anyone asks again, even long after, then it is refused as done', async () => {
    const cluster = freshCluster('claim');
    assert.equal((await takeClaim(fx.store, cluster, 'N#1#0', { owner: 'a', now: 1_000, holdMs: 100 })).ok, true);
    assert.deepEqual(await settleClaim(fx.store, cluster, 'N#1#0', 'a', 'done'), { ok: true });
    assert.deepEqual(await takeClaim(fx.store, cluster, 'N#1#0', { owner: 'b', now: 10_000_000, holdMs: 100 }), { ok: true, claimed: false, done: true, until: 1_100 });
  });

  test('given a claim released after failed work, when another asks at once, then it is taken', async () => {
    const cluster = freshCluster('claim');
    assert.equal((await takeClaim(fx.store, cluster, 'N#2#0', { owner: 'a', now: 1_000, holdMs: 60_000 })).ok, true);
    assert.deepEqual(await settleClaim(fx.store, cluster, 'N#2#0', 'a', 'released'), { ok: true });
    assert.deepEqual(await takeClaim(fx.store, cluster, 'N#2#0', { owner: 'b', now: 1_001, holdMs: 100 }), { ok: true, claimed: true });
  });

  test('claims live outside the cluster partition: the decision log does not see them', async () => {
    const cluster = freshCluster('claim');
    await takeClaim(fx.store, cluster, 'A#x', { owner: 'a', now: 1, holdMs: 1 });
    const read = await readDecisions(fx.store, cluster, { afterSeq: 0 });
    assert.ok(read.ok);
    assert.deepEqual(read.items, []);
  });
});
