/**
 * Issue 13 item 4: a switchover whose promotion keeps failing (here the candidate's agent is
 * gone, so every promote fails) waited without end, the old primary stopped by its demote. Past
 * its deadline it is recorded as failed and the old primary is asked to start again as primary
 * of a new term. Each case failed on the code before (the promote was asked again for ever).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NodeObservation } from '../../../lib/domain/observation.ts';
import { T0, given, healthyRound, initialized, lsn, makeSpec, obs, others, result, round, step } from './kit.ts';

const spec = makeSpec();
const start = initialized(spec);
const by = 'alice@ops';
const deadline = 60_000;
const asked = step(start, { type: 'switchover', now: T0, to: 'pg2', timeoutMs: deadline, requestedBy: by, observations: healthyRound(T0) });
const demoted = step(asked, result(asked, 'demote', 'pg1', T0 + 500, true, { checkpointLsn: lsn(1000) }));
/** pg2's agent does not answer: its promote fails. */
const failedOnce = step(demoted, result(demoted, 'promote', 'pg2', T0 + 1_000, false));

/** pg1 stopped by its demote (refusing connections) while its agent renews; pg2 and pg3 standbys following no one. */
function afterDemote(at: number, pg2: NodeObservation = obs.standby('pg2', at, null, { receiverSince: T0 + 500 })): NodeObservation[] {
  const lease = { version: 40, changedSeenAt: at - 100, term: 2, members: others('pg1'), ttlMs: spec.timing.leaseTtlMs };
  return [obs.failing('pg1', at, 200, { failingSince: T0 + 500, lease }), pg2, obs.standby('pg3', at, null, { receiverSince: T0 + 500 })];
}
const late = T0 + deadline + 1_000;

describe('issue 13 item 4: a switchover past its deadline', () => {
  test('given the switchover asked with --timeout, then its start records the deadline', () => {
    const t = given(start).when({ type: 'switchover', now: T0, to: 'pg2', timeoutMs: 45_000, requestedBy: by, observations: healthyRound(T0) });
    assert.equal(t.one('FailoverStarted').timeoutMs, 45_000);
    assert.equal(t.state.failover?.deadlineAt, T0 + 45_000);
    const byDefault = given(start).when({ type: 'switchover', now: T0, to: 'pg2', requestedBy: by, observations: healthyRound(T0) });
    assert.equal(byDefault.one('FailoverStarted').timeoutMs, 60_000, 'a minute when not given');
  });

  test('given the promote failing before the deadline, then it is asked again and the switchover goes on', () => {
    const t = given(failedOnce).when(round(afterDemote(T0 + 30_000), T0 + 30_000));
    assert.deepEqual(t.intents('promote').map((i) => [i.node, i.term]), [['pg2', 2]]);
    assert.ok(!t.types.includes('FailoverAborted'));
  });

  test('given every promote failed and pg2 still a standby past the deadline, then the switchover is recorded as failed and pg1 is asked to start again as primary of term 3', () => {
    const t = given(failedOnce).when(round(afterDemote(late), late));
    const aborted = t.one('FailoverAborted');
    assert.equal(aborted.kind, 'switchover');
    assert.equal(aborted.neverPromoted, true);
    assert.match(aborted.reason, /switchover pg1 → pg2 of term 2 failed: its deadline of 60 s passed with pg2 not promoted/);
    const [restart] = t.intents('promote');
    assert.deepEqual([restart?.node, restart?.term, restart?.id], ['pg1', 3, '3:promote:pg1:restart']);
    const why = t.events.find((e) => e.type === 'ActionRequested' && e.intent.node === 'pg1')?.reason ?? '';
    assert.match(why, /new term 3 \(the control plane asked it to stop in term 2/);
    assert.ok(!t.types.includes('FailoverStarted'), 'no failover away from pg1 while its restart is under way');
    assert.deepEqual([t.state.primary, t.state.term, t.state.failover, t.state.lostCandidate], ['pg1', 3, null, null]);
  });

  test('given pg1 restarted, when the probes see it primary of term 3, then nothing more is asked of it and no failover starts', () => {
    const aborted = step(failedOnce, round(afterDemote(late), late));
    const restarted = step(aborted, result(aborted, 'promote', 'pg1', late + 500));
    const t = given(restarted).when(round(healthyRound(late + 1_000), late + 1_000));
    assert.ok(!t.types.includes('FailoverStarted'));
    assert.deepEqual(t.intents('promote'), []);
    assert.equal(t.state.primary, 'pg1');
  });

  test('given the restart asked, when a tick follows before any probe saw it answered, then no failover starts and the restart is not asked twice', () => {
    const aborted = step(failedOnce, round(afterDemote(late), late));
    const t = given(aborted).when({ type: 'tick', now: late + 2_000, observations: afterDemote(late) });
    assert.deepEqual(t.events, []);
  });

  test('given a promote still in flight past the deadline, then its answer is awaited', () => {
    const again = step(failedOnce, round(afterDemote(T0 + 30_000), T0 + 30_000));
    const t = given(again).when(round(afterDemote(late), late));
    assert.ok(!t.types.includes('FailoverAborted'));
    assert.deepEqual(t.intents(), []);
  });

  test('given pg2 last seen before its promote was answered, then a fresh probe of it is awaited and no promote is asked', () => {
    const again = step(failedOnce, round(afterDemote(T0 + 30_000), T0 + 30_000));
    const failedAgain = step(again, result(again, 'promote', 'pg2', late - 200, false));
    const before = obs.standby('pg2', late - 1_000, null, { receiverSince: T0 + 500 });
    const t = given(failedAgain).when(round(afterDemote(late, before), late));
    assert.deepEqual(t.intents(), []);
    assert.ok(!t.types.includes('FailoverAborted'));
  });

  test('given pg2 out of sight past the deadline, then it is fenced first and pg1 is not started again by itself (pg2 may have been promoted)', () => {
    const t = given(failedOnce).when(round(afterDemote(late, obs.failing('pg2', late, 40, {}, 'timeout')), late));
    const [fence] = t.intents('fence');
    assert.deepEqual([fence?.node, fence?.id], ['pg2', '2:fence:pg2:deadline']);
    assert.ok(!t.types.includes('FailoverAborted'));
    const fenced = [...failedOnce, ...t.events];
    const after = step(fenced, result(fenced, 'fence', 'pg2', late + 500));
    const ended = given(fenced).when(result(fenced, 'fence', 'pg2', late + 500));
    assert.equal(ended.one('FailoverAborted').to, 'pg2');
    assert.equal(ended.state.lostCandidate?.node, 'pg2');
    const next = given(after).when(round(afterDemote(late + 1_000, obs.failing('pg2', late + 1_000, 44)), late + 1_000));
    assert.ok(!next.intents('promote').some((i) => i.node === 'pg1'), 'pg1 is not restarted while pg2 may hold writes');
  });

  test('given the demote never answered past the deadline, then the switchover fails and pg1 is asked to be primary of term 3 (a running pg1 answers "already primary"; a buffered demote of term 2 becomes stale)', () => {
    const t = given(asked).when(round(healthyRound(late), late));
    assert.match(t.one('FailoverAborted').reason, /before pg1 was demoted/);
    assert.deepEqual(t.intents('promote').map((i) => [i.node, i.term]), [['pg1', 3]]);
  });
});
