import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fold } from '../../lib/domain/evolve.ts';
import { initialState } from '../../lib/domain/state.ts';
import { accept } from '../../lib/domain/decision.ts';
import { commitDecision } from '../../lib/store/commitDecision.ts';
import { appendDecision } from '../../lib/store/decisionLog.ts';
import { loadState } from '../../lib/store/loadState.ts';
import { latestSnapshot, putSnapshot } from '../../lib/store/snapshots.ts';
import { decisionLogArb, ev } from '../support/decisionEventFixture.ts';
import { freshCluster, startStoreFixture, type StoreFixture } from '../support/storeFixture.ts';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { snapshotKey } from '../../lib/store/sortKeys.ts';

describe('replay from snapshot + tail on dynalite', () => {
  let fx: StoreFixture;
  before(async () => {
    fx = await startStoreFixture();
  });
  after(async () => {
    await fx?.stop();
  });

  test('fold(all events) equals fold(snapshot + tail) for random logs', async () => {
    await fc.assert(
      fc.asyncProperty(decisionLogArb('prop'), fc.nat(), async (outcomes, cut) => {
        const cluster = freshCluster('prop');
        for (const [i, events] of outcomes.entries()) {
          assert.deepEqual(await appendDecision(fx.store, cluster, i + 1, events), { ok: true });
        }
        const expected = fold(initialState(cluster), outcomes.flat());
        const plain = await loadState(fx.store, cluster);
        assert.ok(plain.ok);
        assert.deepEqual(plain.state, expected);
        assert.equal(plain.seq, outcomes.length);

        // A snapshot anywhere in the log, from 1 (just the initialization) to the last decision.
        const at = 1 + (cut % outcomes.length);
        const snapState = fold(initialState(cluster), outcomes.slice(0, at).flat());
        assert.deepEqual(await putSnapshot(fx.store, cluster, at, snapState), { ok: true });
        const viaSnapshot = await loadState(fx.store, cluster);
        assert.ok(viaSnapshot.ok);
        assert.deepEqual(viaSnapshot.state, expected);
        assert.equal(viaSnapshot.seq, outcomes.length);
      }),
      { numRuns: 30 },
    );
  });

  test('commitDecision writes a snapshot every K commits, covering its sequence', async () => {
    const cluster = freshCluster('every');
    for (let i = 1; i <= 7; i++) {
      const r = await commitDecision(fx.store, cluster, () => accept(i === 1 ? [ev.initialized(cluster)] : [ev.nodeDown(i, 'beta', `down ${i}`)]), { snapshotEvery: 3 });
      assert.equal(r.ok, true);
    }
    const snap = await latestSnapshot(fx.store, cluster);
    assert.ok(snap.ok && snap.snapshot);
    assert.equal(snap.snapshot.seq, 6);
    assert.deepEqual(snap.snapshot.state.down, ['beta']);
    assert.equal(snap.snapshot.state.primary, 'alpha');
  });

  test('an unreadable snapshot is reported and passed over; the log still serves', async () => {
    const cluster = freshCluster('badsnap');
    for (let i = 1; i <= 4; i++) {
      await commitDecision(fx.store, cluster, () => accept(i === 1 ? [ev.initialized(cluster)] : [ev.paused(i, `pause ${i}`)]), { snapshotEvery: 2 });
    }
    await fx.store.doc.send(new PutCommand({ TableName: fx.store.table, Item: { cluster, sk: snapshotKey(4), seq: 4, state: { cluster, term: 'x' } } }));
    const snap = await latestSnapshot(fx.store, cluster);
    assert.ok(snap.ok);
    assert.equal(snap.snapshot?.seq, 2);
    assert.deepEqual(snap.unreadable.map((u) => u.key.sk), [snapshotKey(4)]);
    const loaded = await loadState(fx.store, cluster);
    assert.ok(loaded.ok);
    assert.equal(loaded.seq, 4);
    assert.equal(loaded.state.paused, true);
    assert.ok(fx.logs.some((l) => l.msg.includes('snapshot unreadable') && l['key'] === snapshotKey(4)));
  });
});
