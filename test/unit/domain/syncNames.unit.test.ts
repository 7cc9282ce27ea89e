import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyncNames, sameCommitQuorum, specSyncNames, synchronousStandbyNames } from '../../../lib/domain/syncNames.ts';
import { makeSpec } from './kit.ts';

describe('synchronous_standby_names, as pgvigil writes it and as PostgreSQL reads it', () => {
  test('synchronous mode lists the candidates as a quorum; async lists none', () => {
    assert.equal(synchronousStandbyNames({ mode: 'synchronous', quorum: 1 }, ['pg2', 'pg3']), 'ANY 1 (pg2, pg3)');
    assert.equal(synchronousStandbyNames({ mode: 'synchronous', quorum: 2 }, ['pg2', 'pg3']), 'ANY 2 (pg2, pg3)');
    assert.equal(synchronousStandbyNames({ mode: 'async', maximumLagOnFailover: 0 }, ['pg2', 'pg3']), '');
    assert.equal(synchronousStandbyNames({ mode: 'synchronous', quorum: 1 }, []), '');
  });

  test('the spec value lists every node not tagged nosync, the primary too', () => {
    const spec = makeSpec({
      nodes: ['pg1', 'pg2', 'pg3'].map((name, i) => ({ name, host: '127.0.0.1', port: 5432 + i, agent: `http://127.0.0.1:${8008 + i}`, tags: { nosync: name === 'pg3' } })),
    });
    assert.equal(specSyncNames(spec), 'ANY 1 (pg1, pg2)');
  });

  test('every form PostgreSQL accepts is read; what it would not accept is unparsed', () => {
    assert.equal(parseSyncNames(''), null);
    assert.equal(parseSyncNames('   '), null);
    assert.deepEqual(parseSyncNames('ANY 2 (pg1, "PG2", pg3)'), { method: 'any', k: 2, names: ['pg1', 'pg2', 'pg3'] });
    assert.deepEqual(parseSyncNames('first 1 (a,b)'), { method: 'first', k: 1, names: ['a', 'b'] });
    assert.deepEqual(parseSyncNames('2 (a, b)'), { method: 'first', k: 2, names: ['a', 'b'] });
    assert.deepEqual(parseSyncNames('a, b'), { method: 'first', k: 1, names: ['a', 'b'] });
    assert.equal(parseSyncNames('*'), 'unparsed');
    assert.equal(parseSyncNames('ANY 1 ()'), 'unparsed');
  });

  test('two settings wait for the same quorum when method, k and the names other than the primary agree', () => {
    assert.ok(sameCommitQuorum('ANY 1 (pg2, pg3)', 'ANY 1 (pg1, pg2, pg3)', 'pg1'), 'the primary in the list counts for nothing');
    assert.ok(sameCommitQuorum('ANY 1 (pg3,pg2)', 'ANY 1 (pg1, pg2, pg3)', 'pg1'), 'order is not meaning');
    assert.ok(sameCommitQuorum('', '', 'pg1'));
    assert.ok(!sameCommitQuorum('', 'ANY 1 (pg1, pg2, pg3)', 'pg1'), 'a host that never set it commits asynchronously');
    assert.ok(!sameCommitQuorum('ANY 1 (pg1, pg2, pg3)', 'ANY 1 (pg1, pg2)', 'pg1'), 'a removed member still acknowledges commits');
    assert.ok(!sameCommitQuorum('ANY 1 (pg1, pg2)', 'ANY 1 (pg1, pg2, pg3)', 'pg1'), 'an added member is not counted yet');
    assert.ok(!sameCommitQuorum('FIRST 1 (pg2, pg3)', 'ANY 1 (pg1, pg2, pg3)', 'pg1'));
    assert.ok(!sameCommitQuorum('ANY 2 (pg1, pg2, pg3)', 'ANY 1 (pg1, pg2, pg3)', 'pg1'));
    assert.ok(!sameCommitQuorum('*', 'ANY 1 (pg1, pg2, pg3)', 'pg1'));
  });
});
