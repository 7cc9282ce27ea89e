import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, detachedAfterCrash, given, healthyRound, initialized, lsn, makeSpec, obs, result, round, step } from './kit.ts';

/*
 * Issue 12, path 2: the quorum the decider reasons about is the one PostgreSQL enforces. The
 * primary's reported synchronous_standby_names is recorded; the quorum proof and the quorum
 * candidate rule count only while it waits for the spec's quorum.
 */
const spec = makeSpec();
const by = 'test';
const primaryWith = (value: string, at: number) => [obs.primary('pg1', at, ['pg2', 'pg3'], { synchronousStandbyNames: value }), obs.standby('pg2', at, 'pg1'), obs.standby('pg3', at, 'pg1')];

describe('rule 2: the commit quorum is what the primary reports', () => {
  test('given a synchronous spec, when the primary reports another setting, then it is recorded once as a mismatch, and again when it agrees', () => {
    const start = initialized(spec, 'pg1', { reportedSyncNames: null });
    const t = given(start).when(round(primaryWith('', T0), T0));
    const seen = t.one('SyncNamesReported');
    assert.equal(seen.matches, false);
    assert.match(seen.reason, /'' but the spec asks 'ANY 1 \(pg1, pg2, pg3\)'/);
    const again = given([...start, ...t.events]).when(round(primaryWith('', T0 + 250), T0 + 250));
    assert.ok(!again.types.includes('SyncNamesReported'), 'the same mismatch is not recorded every round');
    const fixed = given([...start, ...t.events]).when(round(primaryWith('ANY 1 (pg1, pg2, pg3)', T0 + 500), T0 + 500));
    assert.equal(fixed.one('SyncNamesReported').matches, true);
  });

  test('given the primary was seen committing asynchronously (a host set up by hand), when it crashes, then no failover: no standby can be shown to hold every acknowledged commit', () => {
    const start = initialized(spec, 'pg1', { reportedSyncNames: '' });
    const t = given(start).when(round(crashedRound(T0, 3, { pg2: 1000, pg3: 900 }), T0));
    assert.ok(!t.types.includes('FailoverStarted'), t.types.join(', '));
    assert.match(t.one('FailoverImpossible').reason, /committed with synchronous_standby_names '' but the spec asks 'ANY 1 \(pg1, pg2, pg3\)'/);
  });

  test('given the primary never seen as primary with its setting, when it crashes, then no failover, and the reason says the quorum is unknown', () => {
    const start = initialized(spec, 'pg1', { reportedSyncNames: null });
    const t = given(start).when(round(crashedRound(T0, 3), T0));
    assert.match(t.one('FailoverImpossible').reason, /has not been seen while it was primary/);
  });

  test('given pg3 removed from the spec while pg1 still waits for it, when pg1 crashes with pg2 behind, then pg2 is not promoted (pg3 may hold the only copy of a commit)', () => {
    const removed = step(initialized(spec), { type: 'removeNode', now: T0, node: 'pg3', requestedBy: by });
    assert.ok(removed.some((e) => e.type === 'NodeRemoved'));
    const crash = [obs.failing('pg1', T0 + 1_000, 3), obs.standby('pg2', T0 + 1_000, null, { receiverSince: T0 })];
    const t = given(removed).when(round(crash, T0 + 1_000));
    assert.ok(!t.types.includes('FailoverStarted'), t.types.join(', '));
    assert.match(t.one('FailoverImpossible').reason, /'ANY 1 \(pg1, pg2, pg3\)' but the spec asks 'ANY 1 \(pg1, pg2\)'/);
  });

  test('given pg3 removed and pg1 then seen waiting only for pg2, when pg1 crashes, then pg2 is the candidate', () => {
    const removed = step(initialized(spec), { type: 'removeNode', now: T0, node: 'pg3', requestedBy: by });
    const two = (at: number) => [obs.primary('pg1', at, ['pg2'], { synchronousStandbyNames: 'ANY 1 (pg1, pg2)' }), obs.standby('pg2', at, 'pg1')];
    const agreed = step(removed, round(two(T0 + 250), T0 + 250));
    const crash = [obs.failing('pg1', T0 + 1_000, 3), obs.standby('pg2', T0 + 1_000, null, { receiverSince: T0 })];
    assert.equal(given(agreed).when(round(crash, T0 + 1_000)).one('FailoverStarted').to, 'pg2');
  });

  test('given the primary seen with a setting that waits for the spec\'s quorum, then later healthy rounds record nothing more', () => {
    const first = given(initialized(spec, 'pg1', { reportedSyncNames: null })).when(round(healthyRound(T0), T0));
    assert.equal(first.one('SyncNamesReported').matches, true, 'ANY 1 (pg2, pg3) on pg1 is the quorum of ANY 1 (pg1, pg2, pg3)');
    const t = given([...initialized(spec, 'pg1', { reportedSyncNames: null }), ...first.events]).when(round(healthyRound(T0 + 250), T0 + 250));
    assert.ok(!t.types.includes('SyncNamesReported'), t.types.join(', '));
  });

  describe('a new primary that crashes before any probe saw it as primary', () => {
    // pg1 crashed, pg3 detached onto pg2, pg2's promotion asked for.
    const promoting = detachedAfterCrash(step(initialized(spec), round(crashedRound(T0, 3), T0)), T0 + 200);
    // pg2 gone at once; pg3 streamed from it and holds what it flushed; pg1 still down.
    const pg2Crashed = (at: number) => [
      obs.failing('pg1', at, 12),
      obs.failing('pg2', at, 3),
      obs.standby('pg3', at, null, { receiveLsn: lsn(1000), replayLsn: lsn(1000), receiverSince: at - 750 }),
    ];

    test('given the promote answer names the setting its agent put in force, then the log records it as the new primary\'s, and a crash of pg2 then is judged on that quorum', () => {
      const answered = given(promoting).when(result(promoting, 'promote', 'pg2', T0 + 300, true, { promoted: true, synchronousStandbyNames: 'ANY 1 (pg1, pg2, pg3)' }));
      const seen = answered.one('SyncNamesReported');
      assert.equal(seen.node, 'pg2');
      assert.equal(seen.matches, true);
      assert.match(seen.reason, /as its agent set it before the promotion/);
      const t = given([...promoting, ...answered.events]).when(round(pg2Crashed(T0 + 2_000), T0 + 2_000));
      const impossible = t.events.find((e) => e.type === 'FailoverImpossible');
      assert.doesNotMatch(impossible?.reason ?? '', /has not been seen while it was primary/);
    });

    test('given a promote answer without the setting (an older agent), then nothing is recorded for pg2 and a crash before a probe saw it stays refused for an unknown quorum', () => {
      const answered = given(promoting).when(result(promoting, 'promote', 'pg2', T0 + 300, true, { promoted: true }));
      assert.ok(!answered.types.includes('SyncNamesReported'), answered.types.join(', '));
      const t = given([...promoting, ...answered.events]).when(round(pg2Crashed(T0 + 2_000), T0 + 2_000));
      assert.match(t.one('FailoverImpossible').reason, /pg2's synchronous_standby_names has not been seen while it was primary/);
    });

    test('given the agent could only put another setting in force, then it is recorded as a mismatch', () => {
      const answered = given(promoting).when(result(promoting, 'promote', 'pg2', T0 + 300, true, { promoted: true, synchronousStandbyNames: '' }));
      assert.equal(answered.one('SyncNamesReported').matches, false);
    });
  });
});
