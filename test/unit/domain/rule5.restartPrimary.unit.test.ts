import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, given, healthyRound, initialized, makeSpec, obs, others, result, round, stateOf, step } from './kit.ts';

/*
 * Issue 13 item 2 (found by PROPERTY_SEED=906055355, 1070664584, 474098216 once the world had
 * partial partitions): the primary of the term stopped itself when its lease lapsed, every other
 * node was down too, and nothing ever started it again. A host whose PostgreSQL refuses
 * connections is seen (not blindness), and its agent is asked to start it as primary of its term.
 */
const spec = makeSpec();
const start = initialized(spec);
const ttl = spec.timing.leaseTtlMs;
const failures = 20;
const at = T0 + 10_000;
const lease = (seenAt: number) => ({ version: 9, changedSeenAt: seenAt, term: 1, members: others('pg1'), ttlMs: ttl });
const pg1Down = (leaseSeenAt: number) => obs.failing('pg1', at, failures, { lease: lease(leaseSeenAt) });

describe('rule 5: a primary that stopped itself is started again when nothing can replace it', () => {
  test('given pg1 refusing connections while its agent renews, and no standby in sight, then its agent is asked to start it as primary of term 1', () => {
    const t = given(start).when(round([pg1Down(at - 100), obs.failing('pg2', at, failures, {}, 'timeout'), obs.failing('pg3', at, failures, {}, 'timeout')], at));
    const [restart] = t.intents('promote');
    assert.deepEqual([restart?.node, restart?.term], ['pg1', 1]);
    const asked = t.events.find((e) => e.type === 'ActionRequested' && e.intent.action === 'promote');
    assert.match(asked?.reason ?? '', /start it again as primary of its term/);
    assert.ok(!t.types.includes('ControlPlaneBlind'), 'a host that refuses connections is seen');
  });

  test('given its lease last moved before it could have stopped itself (an agent that died with it), then nothing is asked', () => {
    const failedAt = at - failures * 250;
    const t = given(start).when(round([pg1Down(failedAt + ttl - 50), obs.failing('pg2', at, failures, {}, 'timeout'), obs.failing('pg3', at, failures, {}, 'timeout')], at));
    assert.deepEqual(t.intents('promote'), []);
  });

  test('given a standby that can take over, then a failover starts instead', () => {
    const standby = (n: string) => obs.standby(n, at, null, { receiverSince: at - 5_000 });
    const t = given(start).when(round([pg1Down(at - 100), standby('pg2'), standby('pg3')], at));
    assert.equal(t.one('FailoverStarted').from, 'pg1');
    assert.ok(!t.intents('promote').some((i) => i.node === 'pg1'));
  });
});

/*
 * Issue 13 item 2a: the fence of an aborted failover lands late (a frozen host runs the buffered
 * request on wake) and leaves the old primary stopped with a fence marker of that term, which a
 * promote of the same term never lifts. Nothing restarted it; now its agent is asked to start it
 * as primary of a new term, unless an aborted failover's candidate may have taken writes.
 */
describe('rule 5: a primary the control plane stopped (a late fence) is started again in a new term when nothing can replace it', () => {
  const asyncSpec = makeSpec({ replication: { mode: 'async' } });
  const asyncStart = initialized(asyncSpec);
  const renewing = (node: string, seenAt: number) => ({ version: 30, changedSeenAt: seenAt, term: 2, members: others(node), ttlMs: ttl });
  // pg1 stops answering: a failover of term 2 starts and asks pg1's agent to fence it.
  const started = step(asyncStart, round(crashedRound(T0, 3), T0));
  // pg1 answers again before any promotion: the failover is called off; the fence request times out.
  const calledOff = step(started, round(healthyRound(T0 + 500), T0 + 500));
  const fenceTimedOut = step(calledOff, result(calledOff, 'fence', 'pg1', T0 + 5_000, false));
  const wokeAt = T0 + 30_000;
  /** The buffered fence ran: pg1 refuses connections while its agent renews; no standby is in sight to take over. */
  const fencedLate = (at: number) => [
    obs.failing('pg1', at, 60, { failingSince: wokeAt - 15_000, lease: renewing('pg1', at - 100) }),
    obs.failing('pg2', at, 60, {}, 'timeout'),
    obs.failing('pg3', at, 60, {}, 'timeout'),
  ];

  test('given the history the cases assume, then the failover of term 2 was called off and its fence of pg1 failed', () => {
    assert.equal(stateOf(calledOff).failover, null);
    assert.equal(stateOf(fenceTimedOut).stopAskedIn['pg1'], 2);
    assert.deepEqual(stateOf(fenceTimedOut).pending, []);
  });

  test('given pg1 stopped by that fence while its agent renews, and nothing to fail over to, then its agent is asked to start it as primary of term 3', () => {
    const t = given(fenceTimedOut).when(round(fencedLate(wokeAt), wokeAt));
    const [restart] = t.intents('promote');
    assert.deepEqual([restart?.node, restart?.term, restart?.id], ['pg1', 3, '3:promote:pg1:restart']);
    const asked = t.events.find((e) => e.type === 'ActionRequested' && e.intent.action === 'promote');
    assert.match(asked?.reason ?? '', /asked it to stop in term 2/);
    assert.equal(t.state.term, 3);
  });

  test('given the restart failed, when it is asked again after actionTimeoutMs, then it is asked in the same term 3 (the term rises once)', () => {
    const asked = step(fenceTimedOut, round(fencedLate(wokeAt), wokeAt));
    const failed = step(asked, result(asked, 'promote', 'pg1', wokeAt + 1_000, false));
    const soon = given(failed).when(round(fencedLate(wokeAt + 2_000), wokeAt + 2_000));
    assert.deepEqual(soon.intents('promote'), [], 'not before actionTimeoutMs');
    const later = wokeAt + 1_000 + asyncSpec.timing.actionTimeoutMs;
    const t = given(failed).when(round(fencedLate(later), later));
    assert.deepEqual(t.intents('promote').map((i) => [i.node, i.term]), [['pg1', 3]]);
  });

  test('given another node answers as primary, then pg1 is not started', () => {
    const rounds = fencedLate(wokeAt);
    rounds[2] = obs.primary('pg3', wokeAt, []);
    const t = given(fenceTimedOut).when(round(rounds, wokeAt));
    assert.ok(!t.intents('promote').some((i) => i.node === 'pg1'));
  });
});

describe('pgvigil failover --to the stopped primary (issue 13 item 2)', () => {
  const asyncSpec = makeSpec({ replication: { mode: 'async' } });
  const asyncStart = initialized(asyncSpec);
  const { fenceWaitMs } = asyncSpec.timing;
  const crashAt = T0 - 750;
  const leaseOf = (node: string, seenAt: number) => ({ version: 3, changedSeenAt: seenAt, term: 1, members: others(node), ttlMs: ttl });
  const P = T0 + fenceWaitMs;
  // pg1 crashed; its lease proves the stop, pg2 is asked to promote; the operator aborts (pg2's host is gone).
  const promoting = step(
    asyncStart,
    round(
      [
        obs.failing('pg1', P, 21, { failingSince: crashAt, lastKnownWalAt: crashAt - 250, lease: leaseOf('pg1', crashAt) }),
        obs.standby('pg2', P, null, { receiverSince: crashAt }),
        obs.standby('pg3', P, null, { receiverSince: crashAt }),
      ],
      P,
    ),
  );
  const aborted = step(promoting, { type: 'abort', now: P + 1_000, reason: 'pg2 host gone', requestedBy: 'alice@ops' });
  const at = P + 20_000;
  const stopped = [
    obs.failing('pg1', at, 80, { failingSince: crashAt, lease: { ...leaseOf('pg1', at - 100), term: 2 } }),
    obs.failing('pg2', at, 80, {}, 'timeout'),
    obs.failing('pg3', at, 80, {}, 'timeout'),
  ];

  test('given an aborted failover whose candidate may have taken writes, then pg1 is not started by itself', () => {
    assert.equal(stateOf(aborted).lostCandidate?.node, 'pg2');
    const t = given(aborted).when(round(stopped, at));
    assert.ok(!t.intents('promote').some((i) => i.node === 'pg1'));
  });

  test('given that, when the operator names pg1, then its agent is asked to start it as primary of term 3, the reason naming what is given up', () => {
    const t = given(aborted).when({ type: 'failover', now: at, to: 'pg1', force: false, requestedBy: 'alice@ops', observations: stopped });
    assert.ok(t.decision.ok, t.decision.ok ? '' : t.decision.reason);
    const [restart] = t.intents('promote');
    assert.deepEqual([restart?.node, restart?.term], ['pg1', 3]);
    const asked = t.events.find((e) => e.type === 'ActionRequested');
    assert.match(asked?.reason ?? '', /requested by alice@ops; writes pg2 may have acknowledged as primary of term 2 are given up/);
  });

  test('given pg1 serving, when the operator names it, then it is refused as already the primary', () => {
    const t = given(asyncStart).when({ type: 'failover', now: T0, to: 'pg1', force: false, requestedBy: 'alice@ops', observations: [obs.primary('pg1', T0, ['pg2', 'pg3']), obs.standby('pg2', T0, 'pg1'), obs.standby('pg3', T0, 'pg1')] });
    assert.deepEqual(t.decision, { ok: false, reason: 'pg1 is already the primary' });
  });
});
