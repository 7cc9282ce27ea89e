import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Command } from '../../../lib/domain/commands.ts';
import type { DecisionEvent } from '../../../lib/domain/events.ts';
import { T0, crashedRound, detachedAfterCrash, given, healthyRound, initialized, makeSpec, obs, others, result, round, step } from './kit.ts';

const spec = makeSpec();
const start = initialized(spec);
const threshold = spec.timing.failureThreshold;

/**
 * pg3's server refused `failures` probes in a row since `failingSince` (a host power cycle: its
 * postmaster is gone); its lease last moved at `leaseSeenAt` (its agent runs again).
 */
function stoppedPg3(at: number, failures: number, leaseSeenAt: number, kind: 'refused' | 'timeout' = 'refused', failingSince = at - 10_000) {
  return [
    obs.primary('pg1', at, ['pg2']),
    obs.standby('pg2', at, 'pg1'),
    obs.failing('pg3', at, failures, { failingSince, lease: { version: 7, changedSeenAt: leaseSeenAt, term: 1, members: others('pg3'), ttlMs: 3_000 } }, kind),
  ];
}

const now = T0 + 60_000;

/** pg3's agent answers the pending follow with a failure and this reason. */
function failedFollow(history: readonly DecisionEvent[], reason: string): Command {
  const r = result(history, 'follow', 'pg3', now + 500, false);
  return r.type === 'actionResult' ? { ...r, reason } : r;
}
const restartIntents = (t: ReturnType<ReturnType<typeof given>['when']>) => t.intents('follow').filter((i) => i.id.endsWith(':restart'));

describe('rule 5: a standby whose PostgreSQL is down while its agent runs is started again as a standby', () => {
  test('given pg3 refused the threshold of probes and its agent renewed since, when a round arrives, then pg3 is asked to follow pg1, with the reason', () => {
    const t = given(start).when(round(stoppedPg3(now, threshold, now - 100), now));
    const [intent] = restartIntents(t);
    assert.ok(intent, `a follow of pg3: got ${t.types.join(', ')}`);
    assert.deepEqual([intent.node, intent.primary, intent.term], ['pg3', 'pg1', 1]);
    const asked = t.events.find((e) => e.type === 'ActionRequested' && e.intent.id === intent.id);
    assert.match(asked?.reason ?? '', /pg3's PostgreSQL refuses connections \(3 probes in a row\) but its agent renews its lease: start it as a standby of pg1/);
    assert.ok(t.types.includes('NodeDown'), 'the node is still recorded down');
  });

  test('given pg3 refused but its lease has not moved since its first failed probe (its agent is dead too), then nothing is asked', () => {
    const failingSince = now - 2_000;
    const t = given(start).when(round(stoppedPg3(now, threshold, failingSince - 500, 'refused', failingSince), now));
    assert.deepEqual(restartIntents(t), []);
  });

  test('given pg3 refused and its lease was seen moving just after its first failed probe (the last renewal of an agent that died with it, read late), then nothing is asked', () => {
    const failingSince = now - 1_000;
    const t = given(start).when(round(stoppedPg3(now, threshold, failingSince + 900, 'refused', failingSince), now));
    assert.deepEqual(restartIntents(t), []);
  });

  test('given pg3 refused fewer probes than the threshold, then nothing is asked yet', () => {
    const t = given(start).when(round(stoppedPg3(now, threshold - 1, now - 100), now));
    assert.deepEqual(restartIntents(t), []);
  });

  test('given pg3 is silent (timeouts: PostgreSQL may still run, frozen), then nothing is asked', () => {
    const t = given(start).when(round(stoppedPg3(now, threshold, now - 100, 'timeout'), now));
    assert.deepEqual(restartIntents(t), []);
  });

  test('given the follow is in flight, when the next round still sees pg3 refused, then it is not asked twice', () => {
    const asked = step(start, round(stoppedPg3(now, threshold, now - 100), now));
    const t = given(asked).when(round(stoppedPg3(now + 150, threshold + 1, now + 100), now + 150));
    assert.deepEqual(t.intents(), []);
  });

  test('given the follow answered but pg3 still refuses, then it is asked again only after actionTimeoutMs', () => {
    const asked = step(start, round(stoppedPg3(now, threshold, now - 100), now));
    const answered = step(asked, result(asked, 'follow', 'pg3', now + 500, false));
    const soon = now + 500 + spec.timing.actionTimeoutMs - 1;
    assert.deepEqual(given(answered).when(round(stoppedPg3(soon, 20, soon - 50), soon)).intents(), []);
    const later = now + 500 + spec.timing.actionTimeoutMs;
    assert.equal(restartIntents(given(answered).when(round(stoppedPg3(later, 21, later - 50), later))).length, 1);
  });

  test('given the cluster is paused, then nothing is asked', () => {
    const paused = step(start, { type: 'pause', now: now - 1_000, requestedBy: 'op' });
    assert.deepEqual(given(paused).when(round(stoppedPg3(now, threshold, now - 100), now)).intents(), []);
  });

  test('given the primary itself refuses while its agent renews, then it is never started by this rule: the failover decides', () => {
    const crash = crashedRound(now, threshold).map((o) => (o.node === 'pg1' ? { ...o, lease: { ...o.lease!, changedSeenAt: now - 50 } } : o));
    const t = given(start).when(round(crash, now));
    assert.deepEqual(restartIntents(t), []);
  });

  test('given pg1 was deposed by a failover, when it refuses while its agent renews, then it is rewound onto the new primary, never restarted as it was', () => {
    const promoting = detachedAfterCrash(step(start, round(crashedRound(T0, 3), T0)), T0 + 200);
    const promoted = step(promoting, result(promoting, 'promote', 'pg2', T0 + 300));
    const switched = step(promoted, result(promoted, 'endpoints', 'pg2', T0 + 400));
    const fenceAnswered = step(switched, result(switched, 'fence', 'pg1', T0 + 500, false));
    const at = T0 + 30_000;
    const back = [
      obs.primary('pg2', at, ['pg3']),
      obs.standby('pg3', at, 'pg2'),
      obs.failing('pg1', at, 40, { lease: { version: 9, changedSeenAt: at - 100, term: 1, members: others('pg1'), ttlMs: 3_000 } }),
    ];
    const t = given(fenceAnswered).when(round(back, at));
    assert.deepEqual(t.intents('follow'), []);
    assert.deepEqual(t.intents('rewind').map((i) => [i.node, i.primary]), [['pg1', 'pg2']]);
  });

  test('given the primary does not answer, then no standby is asked to follow it', () => {
    const at = now;
    const round_ = [obs.failing('pg1', at, 1, {}, 'timeout'), obs.standby('pg2', at, 'pg1'), obs.failing('pg3', at, threshold, { lease: { version: 7, changedSeenAt: at - 100, term: 1, members: others('pg3'), ttlMs: 3_000 } })];
    assert.deepEqual(restartIntents(given(start).when(round(round_, at))), []);
  });

  test('given a healthy round after the restart, then pg3 is up again and nothing more is asked of it', () => {
    const asked = step(start, round(stoppedPg3(now, threshold, now - 100), now));
    const answered = step(asked, result(asked, 'follow', 'pg3', now + 500));
    const t = given(answered).when(round(healthyRound(now + 1_000), now + 1_000));
    assert.equal(t.one('NodeUp').node, 'pg3');
    assert.deepEqual(t.intents('follow'), []);
  });

  test('given pg3 asked to follow pg1 after its restart, when its agent answers that its WAL diverged (it had streamed from an old primary past the fork), then pg3 is rewound onto pg1, with the reason', () => {
    const asked = step(start, round(stoppedPg3(now, threshold, now - 100), now));
    const t = given(asked).when(failedFollow(asked, 'diverged: rewind needed'));
    assert.deepEqual(
      t.intents('rewind').map((i) => [i.node, i.primary, i.term]),
      [['pg3', 'pg1', 1]],
    );
    const req = t.events.find((e) => e.type === 'ActionRequested' && e.intent.action === 'rewind');
    assert.match(req?.reason ?? '', /pg3's WAL went past where pg1's timeline forked/);
  });

  test('given pg3 asked to follow pg1, when the follow fails for another reason, then no rewind is asked', () => {
    const asked = step(start, round(stoppedPg3(now, threshold, now - 100), now));
    const t = given(asked).when(failedFollow(asked, 'upstream pg1 unreachable: timeout'));
    assert.deepEqual(t.intents('rewind'), []);
  });

  describe('with no primary in sight to follow', () => {
    // The partition lab's case: pg1 and pg3 cut off (timeouts), pg2 the one standby in sight,
    // its host power-cycled and its agent back first.
    const cutOff = (at: number, pg2Failures: number) => [
      obs.failing('pg1', at, 12, { failingSince: at - 3_000 }, 'timeout'),
      obs.failing('pg2', at, pg2Failures, { failingSince: at - 10_000, lease: { version: 7, changedSeenAt: at - 100, term: 1, members: others('pg2'), ttlMs: 3_000 } }),
      obs.failing('pg3', at, 12, { failingSince: at - 3_000 }, 'timeout'),
    ];

    test('given pg2 refused the threshold of probes while its agent renews, and no primary is in sight, then pg2 is asked to start in recovery as it was, with the reason', () => {
      const t = given(start).when(round(cutOff(now, threshold), now));
      const starts = t.intents('start');
      assert.deepEqual(starts.map((i) => [i.node, i.term]), [['pg2', 1]], t.types.join(', '));
      const asked = t.events.find((e) => e.type === 'ActionRequested' && e.intent.id === starts[0]!.id);
      assert.match(asked?.reason ?? '', /no primary is in sight to follow: start it in recovery as it was/);
      assert.deepEqual(t.intents('follow'), [], 'a follow needs its upstream in sight');
    });

    test('given pg2 refused fewer probes than the threshold, then nothing is asked yet', () => {
      assert.deepEqual(given(start).when(round(cutOff(now, threshold - 1), now)).intents('start'), []);
    });

    test('given async mode, when pg2 has started and is seen as a standby again, then it is the failover candidate', () => {
      const asyncSpec = makeSpec({ replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
      const asked = step(initialized(asyncSpec), round(cutOff(now, threshold), now));
      assert.equal(asked.filter((e) => e.type === 'ActionRequested' && e.intent.action === 'start').length, 1);
      const answered = [...asked, ...step(asked, result(asked, 'start', 'pg2', now + 1_500))];
      const startedAt = now + 2_000;
      const back = [
        obs.failing('pg1', startedAt, 20, { failingSince: now - 3_000 }, 'timeout'),
        obs.standby('pg2', startedAt, null, { receiverSince: startedAt - 1_000 }),
        obs.failing('pg3', startedAt, 20, { failingSince: now - 3_000 }, 'timeout'),
      ];
      const t = given(answered).when(round(back, startedAt));
      assert.equal(t.one('FailoverStarted').to, 'pg2', t.types.join(', '));
    });
  });
});
