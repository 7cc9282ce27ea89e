import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { accept, refuse } from '../../lib/domain/decision.ts';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import { commitDecision } from '../../lib/store/commitDecision.ts';
import { appendDecision, readDecisions } from '../../lib/store/decisionLog.ts';
import { loadState } from '../../lib/store/loadState.ts';
import { latestSnapshot } from '../../lib/store/snapshots.ts';
import { decisionKey } from '../../lib/store/sortKeys.ts';
import { ev } from '../support/decisionEventFixture.ts';
import { freshCluster, startStoreFixture, type StoreFixture } from '../support/storeFixture.ts';

describe('decision log on dynalite', () => {
  let fx: StoreFixture;
  before(async () => {
    fx = await startStoreFixture();
  });
  after(async () => {
    await fx?.stop();
  });

  test('16 concurrent appenders × 200 commits: every sequence used once, no event lost, duplicated or reordered', async () => {
    const cluster = freshCluster('race');
    const init = await commitDecision(fx.store, cluster, () => accept([ev.initialized(cluster)]));
    assert.equal(init.ok, true);
    const APPENDERS = 16;
    const ITERATIONS = 200;
    // One outcome = three events whose reasons say who wrote them and in which order.
    const outcome = (a: number, i: number): DecisionEvent[] => [
      ev.paused(i, `appender ${a} iteration ${i} step 0`),
      ev.nodeDown(i, 'beta', `appender ${a} iteration ${i} step 1`),
      ev.resumed(i, `appender ${a} iteration ${i} step 2`),
    ];
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: APPENDERS }, async (_, a) => {
        for (let i = 0; i < ITERATIONS; i++) {
          // Far more contention than a real control plane sees, so allow more attempts than the default.
          const r = await commitDecision(fx.store, cluster, () => accept(outcome(a, i)), { maxAttempts: 200 });
          if (!r.ok) failures.push(r.reason);
        }
      }),
    );
    assert.deepEqual(failures, []);

    const all = await readDecisions(fx.store, cluster);
    assert.ok(all.ok);
    assert.deepEqual(all.unreadable, []);
    const total = 1 + APPENDERS * ITERATIONS;
    assert.deepEqual(all.items.map((d) => d.seq), Array.from({ length: total }, (_, k) => k + 1));
    const seen = new Map<string, number>();
    for (const item of all.items.slice(1)) {
      assert.equal(item.events.length, 3);
      const m = item.events.map((e) => /^appender (\d+) iteration (\d+) step (\d)$/.exec(e.reason));
      assert.deepEqual(m.map((x) => x?.[3]), ['0', '1', '2'], `order within decision ${item.seq}`);
      assert.equal(new Set(m.map((x) => `${x?.[1]}/${x?.[2]}`)).size, 1, `decision ${item.seq} mixes outcomes`);
      const id = `${m[0]?.[1]}/${m[0]?.[2]}`;
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    assert.equal(seen.size, APPENDERS * ITERATIONS);
    assert.ok([...seen.values()].every((n) => n === 1), 'an outcome was appended twice');
    // Each appender's own outcomes keep their order in the log.
    for (let a = 0; a < APPENDERS; a++) {
      const mine: number[] = [];
      for (const item of all.items.slice(1)) {
        const m = /^appender (\d+) iteration (\d+)/.exec(item.events[0]?.reason ?? '');
        if (m?.[1] === String(a)) mine.push(Number(m[2]));
      }
      assert.deepEqual(mine, Array.from({ length: ITERATIONS }, (_, i) => i));
    }
    assert.ok(fx.logs.some((l) => l.msg.includes('lost the race') && l['cluster'] === cluster), 'retries are logged');

    const loaded = await loadState(fx.store, cluster);
    assert.ok(loaded.ok);
    assert.equal(loaded.seq, total);
    assert.deepEqual(loaded.state.down, ['beta']);
    assert.equal(loaded.state.paused, false);
    const snap = await latestSnapshot(fx.store, cluster);
    assert.ok(snap.ok && snap.snapshot);
    assert.equal(snap.snapshot.seq, Math.floor(total / 50) * 50);
  });

  test('an empty decision appends nothing; a refusal appends nothing and says why', async () => {
    const cluster = freshCluster('empty');
    await commitDecision(fx.store, cluster, () => accept([ev.initialized(cluster)]));
    const empty = await commitDecision(fx.store, cluster, () => accept([]));
    assert.deepEqual(empty.ok && { seq: empty.seq, events: empty.events }, { seq: 1, events: [] });
    const refused = await commitDecision(fx.store, cluster, () => refuse('cluster is paused: resume it first'));
    assert.deepEqual(refused, { ok: false, reason: 'cluster is paused: resume it first', refused: true });
    const all = await readDecisions(fx.store, cluster);
    assert.ok(all.ok);
    assert.equal(all.items.length, 1);
  });

  test('a corrupted item is reported with its key; loadState and commitDecision refuse; nothing else is lost', async () => {
    const cluster = freshCluster('corrupt');
    for (let i = 1; i <= 5; i++) {
      const r = await commitDecision(fx.store, cluster, () => accept(i === 1 ? [ev.initialized(cluster)] : [ev.paused(i, `pause ${i}`)]));
      assert.equal(r.ok, true);
    }
    // Written raw, as a bad deploy or a hand edit might: events that are not DecisionEvents.
    await fx.store.doc.send(
      new PutCommand({ TableName: fx.store.table, Item: { cluster, sk: decisionKey(6), seq: 6, writeId: 'raw', events: [{ type: 'Exploded', v: 9 }] } }),
    );
    const read = await readDecisions(fx.store, cluster);
    assert.ok(read.ok);
    assert.deepEqual(read.items.map((d) => d.seq), [1, 2, 3, 4, 5]);
    assert.equal(read.unreadable.length, 1);
    assert.deepEqual(read.unreadable[0]?.key, { cluster, sk: decisionKey(6) });
    assert.match(read.unreadable[0]?.error ?? '', /D#000000000006.*events\.0/);

    const loaded = await loadState(fx.store, cluster);
    assert.equal(loaded.ok, false);
    assert.ok(!loaded.ok && loaded.unreadable?.[0]?.key.sk === decisionKey(6));
    assert.match(!loaded.ok ? loaded.reason : '', /can't be read whole.*D#000000000006/);

    let decided = false;
    const commit = await commitDecision(fx.store, cluster, () => {
      decided = true;
      return accept([ev.resumed(7, 'resume')]);
    });
    assert.equal(commit.ok, false);
    assert.ok(!commit.ok && commit.refused === true);
    assert.equal(decided, false, 'decide must not run on a partial log');
    const again = await readDecisions(fx.store, cluster);
    assert.ok(again.ok);
    assert.deepEqual(again.items.map((d) => d.seq), [1, 2, 3, 4, 5]);
    assert.equal(again.unreadable.length, 1);
  });

  test('a missing sequence is refused, not folded over', async () => {
    const cluster = freshCluster('gap');
    assert.deepEqual(await appendDecision(fx.store, cluster, 1, [ev.initialized(cluster)]), { ok: true });
    assert.deepEqual(await appendDecision(fx.store, cluster, 3, [ev.paused(3, 'pause')]), { ok: true });
    const loaded = await loadState(fx.store, cluster);
    assert.equal(loaded.ok, false);
    assert.match(!loaded.ok ? loaded.reason : '', /gap: decision 2 is missing/);
  });

  test('reads page through more than one page, after a sequence and up to a limit', async () => {
    const cluster = freshCluster('pages');
    for (let seq = 1; seq <= 23; seq++) {
      assert.deepEqual(await appendDecision(fx.store, cluster, seq, seq === 1 ? [ev.initialized(cluster)] : [ev.paused(seq, `pause ${seq}`), ev.resumed(seq, `resume ${seq}`)]), { ok: true });
    }
    const all = await readDecisions(fx.store, cluster, { pageSize: 4 });
    assert.ok(all.ok);
    assert.deepEqual(all.items.map((d) => d.seq), Array.from({ length: 23 }, (_, k) => k + 1));
    const tail = await readDecisions(fx.store, cluster, { afterSeq: 10, pageSize: 3 });
    assert.ok(tail.ok);
    assert.deepEqual(tail.items.map((d) => d.seq), Array.from({ length: 13 }, (_, k) => k + 11));
    const limited = await readDecisions(fx.store, cluster, { afterSeq: 2, limit: 7, pageSize: 3 });
    assert.ok(limited.ok);
    assert.deepEqual(limited.items.map((d) => d.seq), [3, 4, 5, 6, 7, 8, 9]);
    const loaded = await loadState(fx.store, cluster, { pageSize: 5 });
    assert.ok(loaded.ok);
    assert.equal(loaded.seq, 23);
  });
});
