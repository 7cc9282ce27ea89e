import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accept } from '../../lib/domain/decision.ts';
import { startDynalite } from '../../lib/local/dynaliteServer.ts';
import { commitDecision } from '../../lib/store/commitDecision.ts';
import { readDecisions } from '../../lib/store/decisionLog.ts';
import { loadState } from '../../lib/store/loadState.ts';
import { closeStore, createStore } from '../../lib/store/store.ts';
import { ev } from '../support/decisionEventFixture.ts';
import { startStoreFixture, type StoreFixture } from '../support/storeFixture.ts';

describe('dynalite stopped and restarted on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgvigil-store-'));
  const fixtures: StoreFixture[] = [];
  after(async () => {
    for (const fx of fixtures) await fx.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('stopped during appends: a clear error, no partial item; restarted on the same path: log intact, appends continue', async () => {
    const cluster = 'outage';
    const first = await startStoreFixture({ path: dir });
    fixtures.push(first);
    const port = Number(new URL(first.server.endpoint).port);
    const init = await commitDecision(first.store, cluster, () => accept([ev.initialized(cluster)]));
    assert.equal(init.ok, true);

    // Four writers append until the server goes away under them.
    const failures: string[] = [];
    let committed = 0;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; ; i++) {
        const r = await commitDecision(first.store, cluster, () => accept([ev.paused(i, `writer ${w} #${i} a`), ev.resumed(i, `writer ${w} #${i} b`)]), { maxAttempts: 50 });
        if (!r.ok) {
          failures.push(r.reason);
          return;
        }
        committed++;
      }
    });
    const deadline = Date.now() + 60_000;
    while (committed < 40 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(committed >= 40, 'writers made progress before the stop');
    await first.server.stop();
    await Promise.all(writers);

    assert.equal(failures.length, 4);
    for (const reason of failures) assert.match(reason, /^store unreachable: .*\(is dynalite\/DynamoDB running at http:\/\/127\.0\.0\.1:\d+\?\)$/);

    const second = await startStoreFixture({ path: dir, port });
    fixtures.push(second);
    const read = await readDecisions(second.store, cluster);
    assert.ok(read.ok);
    assert.deepEqual(read.unreadable, []);
    assert.deepEqual(read.items.map((d) => d.seq), Array.from({ length: read.items.length }, (_, k) => k + 1));
    assert.ok(read.items.length >= committed + 1, 'every acknowledged commit survived the restart');
    // Whole items only: each outcome holds both of its events.
    for (const item of read.items.slice(1)) {
      assert.deepEqual(item.events.map((e) => e.type), ['Paused', 'Resumed']);
      assert.equal(item.events[0]?.reason.replace(/ a$/, ''), item.events[1]?.reason.replace(/ b$/, ''));
    }

    // The first client, pointed at the same endpoint, carries on once the server is back.
    const next = await commitDecision(first.store, cluster, () => accept([ev.nodeDown(1, 'gamma', 'after restart')]));
    assert.ok(next.ok);
    assert.equal(next.seq, read.items.length + 1);
    const loaded = await loadState(second.store, cluster);
    assert.ok(loaded.ok);
    assert.equal(loaded.seq, next.seq);
    assert.deepEqual(loaded.state.down, ['gamma']);
  });

  test('a store nobody listens on answers not-ok with the endpoint, at once', async () => {
    const server = await startDynalite();
    const endpoint = server.endpoint;
    await server.stop();
    const store = createStore({ table: 'pgvigil-test', region: 'us-east-1', endpoint }, () => {});
    try {
      const loaded = await loadState(store, 'nobody');
      assert.equal(loaded.ok, false);
      assert.ok(!loaded.ok && loaded.unreadable === undefined);
      assert.match(!loaded.ok ? loaded.reason : '', new RegExp(`^store unreachable: .*is dynalite/DynamoDB running at ${endpoint}\\?\\)$`));
      const commit = await commitDecision(store, 'nobody', () => accept([ev.paused(1, 'pause')]));
      assert.equal(commit.ok, false);
      assert.ok(!commit.ok && commit.refused === false);
    } finally {
      closeStore(store);
    }
  });
});
