import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeObservation } from '../../lib/domain/observation.ts';
import { retryDelayMs } from '../../lib/store/commitDecision.ts';
import { newestPerNode } from '../../lib/store/observations.ts';
import { decisionKey, observationKey, observationRange, seqOfDecisionKey } from '../../lib/store/sortKeys.ts';
import { createStore, closeStore } from '../../lib/store/store.ts';
import { parseStoreConfig } from '../../lib/store/storeConfig.ts';
import { isUnreachable, storeFailure } from '../../lib/store/storeFailure.ts';

describe('sort keys', () => {
  test('decision keys sort in sequence order and name their sequence', () => {
    const keys = [1, 9, 10, 123, 999_999_999_999].map(decisionKey);
    assert.deepEqual([...keys].sort(), keys);
    assert.equal(decisionKey(42), 'D#000000000042');
    assert.equal(seqOfDecisionKey('D#000000000042'), 42);
    assert.equal(seqOfDecisionKey('D#42'), null);
    assert.equal(seqOfDecisionKey('S#000000000042'), null);
  });

  test('an observation window holds exactly the keys whose time is inside it', () => {
    const { lo, hi } = observationRange(1_000, 2_000);
    const inside = (sk: string) => sk >= lo && sk <= hi;
    assert.ok(inside(observationKey(1_000, 'alpha', 'p')));
    assert.ok(inside(observationKey(2_000, 'zeta-9', 'prober-zz')));
    assert.ok(!inside(observationKey(999, 'zeta', 'p')));
    assert.ok(!inside(observationKey(2_001, 'alpha', 'p')));
  });
});

describe('store config', () => {
  test('defaults the region and accepts a dynalite endpoint', () => {
    assert.deepEqual(parseStoreConfig({ table: 'pgvigil', endpoint: 'http://127.0.0.1:4567' }), {
      ok: true,
      value: { table: 'pgvigil', region: 'us-east-1', endpoint: 'http://127.0.0.1:4567' },
    });
  });

  test('bad input names the field', () => {
    const bad = parseStoreConfig({ table: 'pgvigil', endpoint: 'localhost 4567' });
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.reason : '', /^store config: endpoint: .*URL/);
    const noTable = parseStoreConfig({});
    assert.match(!noTable.ok ? noTable.reason : '', /^store config: table/);
  });
});

describe('store failures', () => {
  const store = createStore({ table: 't-1', region: 'us-east-1', endpoint: 'http://127.0.0.1:1' }, () => {});
  closeStore(store);

  test('a refused connection reads as unreachable, naming the endpoint', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    assert.equal(isUnreachable(err), true);
    assert.equal(
      storeFailure(store, err, 'reading decisions of c'),
      'store unreachable: reading decisions of c: connect ECONNREFUSED 127.0.0.1:1 (is dynalite/DynamoDB running at http://127.0.0.1:1?)',
    );
  });

  test('a missing table says how to create it', () => {
    const err = Object.assign(new Error('Cannot do operations on a non-existent table'), { name: 'ResourceNotFoundException' });
    assert.equal(isUnreachable(err), false);
    assert.match(storeFailure(store, err, 'reading'), /table "t-1" not found .*ensureTable/);
  });
});

describe('newest observation per node', () => {
  const obs = (node: string, prober: string, at: number) => ({ node, prober, at }) as NodeObservation;
  test('keeps the newest `at` of each node, whichever prober wrote it', () => {
    const newest = newestPerNode([obs('beta', 'p1', 5), obs('alpha', 'p1', 3), obs('beta', 'p2', 9), obs('alpha', 'p2', 2), obs('beta', 'p1', 7)]);
    assert.deepEqual(newest.map((o) => [o.node, o.prober, o.at]), [
      ['alpha', 'p1', 3],
      ['beta', 'p2', 9],
    ]);
  });
});

describe('retry delay', () => {
  test('full jitter under a cap that grows with the attempt', () => {
    assert.equal(retryDelayMs(1, () => 0), 0);
    assert.equal(retryDelayMs(1, () => 0.999), 9);
    assert.equal(retryDelayMs(3, () => 0.999), 39);
    assert.equal(retryDelayMs(30, () => 0.999), 199);
  });
});
