/**
 * Issue 13 item 1 and 3: every step of a failover has a way out. One given/when/then case per
 * stuck state; each failed on the code before the fix (the failover waited without end).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, detachedAfterCrash, given, initialized, lsn, makeSpec, obs, result, round, step } from './kit.ts';

const spec = makeSpec();
const start = initialized(spec);
const { fenceWaitMs, leaseTtlMs } = spec.timing;
/** Synchronous: crash of pg1, pg3 detached, pg2's promotion asked for (step promoting). */
const promoting = detachedAfterCrash(step(start, round(crashedRound(T0, 3), T0)), T0 + 200);

// Async, where a second failover needs no quorum of members in sight: pg1 crashed at T0 - 750
// and its lease proves the stop at T0 + fenceWaitMs, so pg2's promotion is asked at once.
const asyncSpec = makeSpec({ replication: { mode: 'async' } });
const asyncStart = initialized(asyncSpec);
const crashAt = T0 - 750;
const leaseOf = (node: string, at: number, term: number) => ({ version: 3, changedSeenAt: at, term, members: ['pg1', 'pg2', 'pg3'].filter((n) => n !== node), ttlMs: leaseTtlMs });
const asyncPromoting = step(
  asyncStart,
  round(
    [
      obs.failing('pg1', T0 + fenceWaitMs, 21, { failingSince: crashAt, lastKnownWalAt: crashAt - 250, lease: leaseOf('pg1', crashAt, 1) }),
      obs.standby('pg2', T0 + fenceWaitMs, null, { receiverSince: crashAt }),
      obs.standby('pg3', T0 + fenceWaitMs, null, { receiverSince: crashAt }),
    ],
    T0 + fenceWaitMs,
  ),
);
const P = T0 + fenceWaitMs;

describe('a failover stuck in switching', () => {
  // Async: pg2 promoted; the endpoints of term 2 keep failing (throttled, no route).
  const promoted = step(asyncPromoting, result(asyncPromoting, 'promote', 'pg2', P + 100));
  const switching = step(promoted, result(promoted, 'endpoints', 'pg2', P + 200, false));

  test('given the async failover asked pg2 to promote, then the history is as the cases below assume', () => {
    assert.deepEqual(given(promoted).when(round([], P + 150)).state.failover?.step, 'switching');
  });

  test('given the endpoints failing, when the new primary crashes, then a failover away from it starts: its promotion is a fact', () => {
    const now = P + 5_000;
    const since = now - 750;
    const crashed = [
      obs.failing('pg1', now, 40),
      obs.failing('pg2', now, 3, { lastKnownWalLsn: lsn(1000), lastKnownTimeline: 2 }),
      obs.standby('pg3', now, null, { receiverSince: since, timeline: 2 }),
    ];
    const t = given(switching).when(round(crashed, now));
    const aborted = t.one('FailoverAborted');
    assert.equal(aborted.term, 2);
    assert.match(aborted.reason, /pg2, promoted in term 2, failed before its endpoints were switched/);
    const started = t.one('FailoverStarted');
    assert.deepEqual([started.from, started.to, started.term], ['pg2', 'pg3', 3]);
    assert.equal(t.state.primary, 'pg2', 'pg2 stays the primary of the log until pg3 is promoted');
    assert.deepEqual(t.intents('fence').map((i) => [i.node, i.term]), [['pg2', 3]]);
  });

  test('given the endpoints failing and the new primary healthy, then the failover keeps switching (nothing is started) and the endpoints are asked again', () => {
    const now = P + 200 + asyncSpec.timing.actionTimeoutMs;
    const healthy = [obs.failing('pg1', now, 40), obs.primary('pg2', now, ['pg3']), obs.standby('pg3', now, 'pg2')];
    const t = given(switching).when(round(healthy, now));
    assert.ok(!t.types.includes('FailoverStarted'));
    assert.equal(t.state.failover?.step, 'switching');
    assert.deepEqual(t.intents('endpoints').map((i) => i.node), ['pg2']);
  });
});

describe('a failover stuck in promoting: the candidate lost after its promotion was asked for', () => {
  const refused = step(asyncPromoting, result(asyncPromoting, 'promote', 'pg2', P + 100, false));
  /** pg2 silent since `lostAt`, its agent with it; pg3 seen, following no one since then. */
  const lostRound = (now: number, lostAt: number) => [
    obs.failing('pg1', now, 40),
    obs.failing('pg2', now, Math.round((now - lostAt) / 250), { failingSince: lostAt, lease: { version: 7, changedSeenAt: lostAt, term: 2, members: ['pg1', 'pg3'], ttlMs: leaseTtlMs } }),
    obs.standby('pg3', now, null, { receiverSince: lostAt }),
  ];

  test('given its lease quiet past fenceWaitMs with pg3 off it, then it is proven stopped, the failover ends and the next one chooses again', () => {
    const lostAt = P + 200;
    const now = lostAt + fenceWaitMs + 250;
    const t = given(refused).when(round(lostRound(now, lostAt), now));
    const fenced = t.events.find((e) => e.type === 'Fenced');
    assert.equal(fenced?.type === 'Fenced' && [fenced.node, fenced.by, fenced.term].join(' '), 'pg2 lease 2');
    assert.match(t.one('FailoverAborted').reason, /candidate pg2 was lost after its promotion was asked for/);
    assert.ok(Object.hasOwn(t.state.deposed, 'pg2'), 'pg2 deposed: it may be primary of term 2');
    const next = t.one('FailoverStarted');
    assert.deepEqual([next.from, next.to, next.term], ['pg1', 'pg3', 3]);
  });

  test('given its lease quiet for less than fenceWaitMs, then the failover waits for it (it may hold commits as primary)', () => {
    const lostAt = P + 200;
    const now = lostAt + fenceWaitMs - 500;
    const t = given(refused).when(round(lostRound(now, lostAt), now));
    assert.deepEqual(t.types.filter((x) => x === 'FailoverAborted' || x === 'FailoverStarted' || x === 'Fenced'), []);
    assert.equal(t.state.failover?.step, 'promoting');
  });
});

describe('pgvigil abort', () => {
  test('given a candidate asked to promote and gone, when the operator aborts, then it is fenced and deposed, the failover ends, and the reason is in history', () => {
    const t = given(promoting).when({ type: 'abort', now: T0 + 1_000, reason: 'pg2 host is being replaced', requestedBy: 'alice' });
    assert.deepEqual(t.intents().map((i) => [i.action, i.node, i.term]), [['fence', 'pg2', 2]]);
    const aborted = t.one('FailoverAborted');
    assert.match(aborted.reason, /aborted by alice: pg2 host is being replaced/);
    assert.equal(t.state.failover, null);
    assert.ok(Object.hasOwn(t.state.deposed, 'pg2'));
    assert.equal(t.state.primary, 'pg1');
  });

  test('given the failover ended by abort, when the next round sees pg1 still down, then a new failover starts and may choose another candidate', () => {
    const aborted = step(asyncPromoting, { type: 'abort', now: P + 1_000, reason: 'pg2 is gone', requestedBy: 'alice' });
    const now = P + 1_250;
    const t = given(aborted).when(
      round([obs.failing('pg1', now, 30, { failingSince: crashAt, lastKnownWalAt: crashAt - 250, lease: leaseOf('pg1', crashAt, 1) }), obs.failing('pg2', now, 4), obs.standby('pg3', now, null, { receiverSince: crashAt })], now),
    );
    const next = t.one('FailoverStarted');
    assert.deepEqual([next.from, next.to, next.term], ['pg1', 'pg3', 3]);
  });

  test('given the aborted candidate still a reachable standby (its agent hung), when the next failover starts by itself, then it passes over that candidate', () => {
    const aborted = step(asyncPromoting, { type: 'abort', now: P + 1_000, reason: "pg2's agent hangs", requestedBy: 'alice' });
    const now = P + 1_250;
    const pg1 = obs.failing('pg1', now, 30, { failingSince: crashAt, lastKnownWalAt: crashAt - 250, lease: leaseOf('pg1', crashAt, 1) });
    const t = given(aborted).when(round([pg1, obs.standby('pg2', now, null, { receiverSince: crashAt }), obs.standby('pg3', now, null, { receiverSince: crashAt })], now));
    const next = t.one('FailoverStarted');
    assert.deepEqual([next.from, next.to, next.term], ['pg1', 'pg3', 3]);
    const manual = given(aborted).when({ type: 'failover', now, to: 'pg2', force: false, requestedBy: 'alice', observations: [pg1, obs.standby('pg2', now, null, { receiverSince: crashAt }), obs.standby('pg3', now, null, { receiverSince: crashAt })] });
    assert.equal(manual.one('FailoverStarted').to, 'pg2', 'the operator may still name it');
  });

  test('given the failover switching, when aborted, then no one is stopped: the new primary stays and the failover ends', () => {
    const promoted = step(promoting, result(promoting, 'promote', 'pg2', T0 + 300));
    const t = given(promoted).when({ type: 'abort', now: T0 + 1_000, reason: 'endpoints throttled', requestedBy: 'bob' });
    assert.deepEqual(t.intents(), []);
    assert.match(t.one('FailoverAborted').reason, /pg2's promotion is a fact, so it stays primary/);
    assert.equal(t.state.primary, 'pg2');
    assert.ok(!Object.hasOwn(t.state.deposed, 'pg2'));
  });

  test('given no failover in progress, when aborted, then it is refused with what to look at', () => {
    const t = given(start).when({ type: 'abort', now: T0, reason: 'x', requestedBy: 'bob' });
    assert.deepEqual(t.decision, { ok: false, reason: 'no failover is in progress: nothing to abort (pgvigil status shows the cluster)' });
  });
});

describe('a detach that never completes (synchronous mode)', () => {
  // pg2 and pg3 both synchronous; pg1 crashed; fenced by the quorum proof; pg3's detach asked.
  const fenced = step(start, round(crashedRound(T0, 3), T0));
  const detachFailed = step(fenced, result(fenced, 'follow', 'pg3', T0 + 200, false));
  /** pg3 lost after the quorum proof; pg1's lease quiet since the crash; pg2 off pg1 since then. */
  const later = (now: number) => [
    obs.failing('pg1', now, Math.round((now - T0 + 750) / 250), { failingSince: T0 - 750, lease: { version: 1, changedSeenAt: T0 - 750, term: 1, members: ['pg2', 'pg3'], ttlMs: leaseTtlMs } }),
    obs.standby('pg2', now, null, { receiverSince: T0 - 750 }),
    obs.failing('pg3', now, 5),
  ];

  test('given pg3 lost and pg1 proven stopped by its lease, then the promotion no longer waits for the detach, and history says why', () => {
    const now = T0 + fenceWaitMs + 250;
    const t = given(detachFailed).when(round(later(now), now));
    const f = t.one('Fenced');
    assert.deepEqual([f.node, f.by], ['pg1', 'lease']);
    assert.match(f.reason, /pg3 can't be detached from pg1 \(lost since the quorum proof\); instead pg1's lease/);
    assert.deepEqual(t.intents().map((i) => [i.action, i.node]), [['promote', 'pg2']]);
    assert.equal(t.state.failover?.fencedBy, 'lease');
  });

  test('given pg3 lost but pg1\'s lease not yet quiet for fenceWaitMs, then nothing is promoted: the detach is still awaited', () => {
    const now = T0 + fenceWaitMs - 1_000;
    const t = given(detachFailed).when(round(later(now), now));
    assert.deepEqual(t.intents('promote'), []);
    assert.equal(t.state.failover?.fencedBy, 'syncQuorum');
  });
});
