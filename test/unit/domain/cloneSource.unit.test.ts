import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseCloneSource, CLONE_SOURCE_MAX_LAG_BYTES, type CloneView, type ReplicaSeen } from '../../../lib/domain/cloneSource.ts';

/**
 * Given what a joining host sees of its peers, when it chooses where to copy from, then: a
 * healthy streaming standby the quorum can spare, least lag first, else the primary; the new
 * node always streams from the primary.
 */
const streaming = (name: string, replayLagBytes: number | null, syncState = 'async'): ReplicaSeen => ({ name, state: 'streaming', syncState, replayLagBytes });

function given(o: Partial<CloneView> & { replicas: ReplicaSeen[] }) {
  const view: CloneView = {
    primary: 'pg1',
    peers: [{ name: 'pg1', role: 'primary' }, { name: 'pg2', role: 'standby' }, { name: 'pg3', role: 'standby' }, { name: 'pg4', role: 'unreachable' }],
    synchronousStandbyNames: '',
    maxLagBytes: CLONE_SOURCE_MAX_LAG_BYTES,
    ...o,
  };
  return { whenChosen: () => chooseCloneSource(view) };
}

describe('clone source: where a new standby copies from', () => {
  test('given two streaming standbys, then the one with less lag, streaming from the primary afterwards', () => {
    const c = given({ replicas: [streaming('pg2', 4096), streaming('pg3', 128)] }).whenChosen();
    assert.equal(c.source, 'pg3');
    assert.equal(c.upstream, 'pg1');
    assert.match(c.why, /copied from the standby pg3 \(streams from pg1, 128 bytes behind\)/);
    assert.match(c.why, /pg4: does not answer/, 'the node being built (or any silent peer) is passed over, and said');
  });

  test('given equal lag, then the peers\' order', () => {
    assert.equal(given({ replicas: [streaming('pg2', 0), streaming('pg3', 0)] }).whenChosen().source, 'pg2');
  });

  test('given no standby, then the primary', () => {
    const c = given({ peers: [{ name: 'pg1', role: 'primary' }, { name: 'pg2', role: 'unreachable' }], replicas: [] }).whenChosen();
    assert.deepEqual([c.source, c.upstream], ['pg1', 'pg1']);
    assert.match(c.why, /copied from the primary pg1: no standby qualifies \(passed over: pg2: does not answer\)/);
  });

  test('given standbys that are behind, catching up, of unknown lag or cascading, then the primary, each reason said', () => {
    const c = given({
      peers: [{ name: 'pg1', role: 'primary' }, { name: 'pg2', role: 'standby' }, { name: 'pg3', role: 'standby' }, { name: 'pg4', role: 'standby' }, { name: 'pg5', role: 'standby' }],
      replicas: [streaming('pg2', CLONE_SOURCE_MAX_LAG_BYTES + 1), { name: 'pg3', state: 'catchup', syncState: 'async', replayLagBytes: 0 }, streaming('pg4', null)],
    }).whenChosen();
    assert.equal(c.source, 'pg1');
    assert.match(c.why, new RegExp(`pg2: ${CLONE_SOURCE_MAX_LAG_BYTES + 1} bytes behind \\(limit ${CLONE_SOURCE_MAX_LAG_BYTES}\\)`));
    assert.match(c.why, /pg3: its replication is catchup/);
    assert.match(c.why, /pg4: its lag is unknown/);
    assert.match(c.why, /pg5: pg1 lists no replication from it/);
  });

  test('given ANY 1 of two streaming members, then either can be spared: a member is chosen', () => {
    const c = given({ synchronousStandbyNames: 'ANY 1 (pg1, pg2, pg3)', replicas: [streaming('pg2', 10, 'quorum'), streaming('pg3', 20, 'quorum')] }).whenChosen();
    assert.equal(c.source, 'pg2');
  });

  test('given ANY 2 of two streaming members, then neither can be spared: the primary', () => {
    const c = given({ synchronousStandbyNames: 'ANY 2 (pg1, pg2, pg3)', replicas: [streaming('pg2', 10, 'quorum'), streaming('pg3', 20, 'quorum')] }).whenChosen();
    assert.equal(c.source, 'pg1');
    assert.match(c.why, /pg2: a synchronous standby the commit quorum needs; pg3: a synchronous standby the commit quorum needs/);
  });

  test('given ANY 1 of one streaming member and an async standby, then the async one', () => {
    const c = given({ synchronousStandbyNames: 'ANY 1 (pg1, pg2)', replicas: [streaming('pg2', 0, 'quorum'), streaming('pg3', 500)] }).whenChosen();
    assert.equal(c.source, 'pg3');
  });

  test('given FIRST 1, then the sync standby is passed over and the potential one chosen', () => {
    const c = given({ synchronousStandbyNames: 'FIRST 1 (pg2, pg3)', replicas: [streaming('pg2', 0, 'sync'), streaming('pg3', 100, 'potential')] }).whenChosen();
    assert.equal(c.source, 'pg3');
  });

  test('given a setting it cannot read, then every member counts as needed', () => {
    const c = given({ synchronousStandbyNames: '*', replicas: [streaming('pg2', 0, 'sync'), streaming('pg3', 0, 'potential')] }).whenChosen();
    assert.equal(c.source, 'pg1');
  });
});
