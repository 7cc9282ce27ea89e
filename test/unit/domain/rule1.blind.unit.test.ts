import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { alertFor } from '../../../lib/alerts/alertMessage.ts';
import { T0, crashedRound, detachedAfterCrash, given, healthyRound, initialized, makeSpec, obs, result, round, step } from './kit.ts';

const spec = makeSpec();
const start = initialized(spec);
const threshold = spec.timing.failureThreshold;
const interval = spec.timing.probeIntervalMs;

/** Every probe of a round timed out, each node's `failures`-th failure in a row (a loaded control plane host). */
const timedOut = (at: number, failures: number) => ['pg1', 'pg2', 'pg3'].map((n) => obs.failing(n, at, failures, {}, 'timeout'));

/** Rounds 1..n of every probe timing out, decided one after the other. */
function timedOutRounds(history: ReturnType<typeof initialized>, n: number) {
  let h = history;
  for (let i = 1; i <= n; i++) h = step(h, round(timedOut(T0 + i * interval, i), T0 + i * interval));
  return h;
}

const alerts = (events: readonly Parameters<typeof alertFor>[1][]) => events.map((e) => alertFor('main', e, false)).filter((a) => a !== null);

describe('rule 1: the control plane is blind only after the threshold NodeDown has', () => {
  test('given a healthy cluster, when one round has every probe time out, then the lost sight is recorded without an alert, and nothing requested', () => {
    const healthy = step(start, round(healthyRound(T0), T0));
    const t = given(healthy).when(round(timedOut(T0 + interval, 1), T0 + interval));
    assert.deepEqual(t.types, ['ControlPlaneSightLost']);
    assert.deepEqual(alerts(t.events), []);
    assert.equal(t.state.blind, true);
    assert.equal(t.state.blindReported, false);
  });

  test('given every probe timed out for threshold − 1 rounds, when the next round still times out, then ControlPlaneBlind is recorded once, a critical alert with the evidence', () => {
    const before = timedOutRounds(start, threshold - 1);
    assert.equal(before.filter((e) => e.type === 'ControlPlaneBlind').length, 0);
    const t = given(before).when(round(timedOut(T0 + threshold * interval, threshold), T0 + threshold * interval));
    const blind = t.one('ControlPlaneBlind');
    assert.deepEqual(
      blind.evidence.map((e) => [e.node, e.consecutiveFailures]),
      [['pg1', threshold], ['pg2', threshold], ['pg3', threshold]],
    );
    assert.deepEqual(alerts(t.events).map((a) => a.severity), ['critical']);
    assert.equal(t.intents().length, 0);
    assert.equal(t.state.blindReported, true);
  });

  test('given the control plane is blind, when more rounds time out, then nothing more is recorded', () => {
    const blind = timedOutRounds(start, threshold);
    const t = given(blind).when(round(timedOut(T0 + (threshold + 1) * interval, threshold + 1), T0 + (threshold + 1) * interval));
    assert.deepEqual(t.types, []);
  });

  test('given one node unseen (no fresh observation) and the others at their first timeout, when the round arrives, then it is not blind yet', () => {
    const t = given(start).when(round([obs.failing('pg2', T0, 1, {}, 'timeout'), obs.failing('pg3', T0, 1, {}, 'timeout')], T0));
    assert.deepEqual(t.types, ['ControlPlaneSightLost']);
  });

  test('given one node has failed past the threshold and the others only once, when the round arrives, then it is not blind and nothing is requested', () => {
    const t = given(start).when(round([obs.failing('pg1', T0, threshold + 2, {}, 'timeout'), obs.failing('pg2', T0, 1, {}, 'timeout'), obs.failing('pg3', T0, 1, {}, 'timeout')], T0));
    assert.deepEqual(t.types, ['ControlPlaneSightLost']);
    assert.equal(t.intents().length, 0);
  });

  test('given one lone round that reached no node, when the nodes answer again, then sight is regained with no alert', () => {
    const lone = step(start, round(timedOut(T0 + interval, 1), T0 + interval));
    const t = given(lone).when(round(healthyRound(T0 + 2 * interval), T0 + 2 * interval));
    const sighted = t.one('ControlPlaneSighted');
    assert.equal(sighted.blindReported, false);
    assert.deepEqual(alerts(t.events), []);
    assert.equal(t.state.blind, false);
  });

  test('given a blindness past the threshold, when a node answers again, then the end is an alert too', () => {
    const blind = timedOutRounds(start, threshold);
    const t = given(blind).when(round(healthyRound(T0 + 10 * interval), T0 + 10 * interval));
    assert.equal(t.one('ControlPlaneSighted').blindReported, true);
    assert.deepEqual(alerts(t.events).map((a) => a.event), ['ControlPlaneSighted']);
    assert.equal(t.state.blindReported, false);
  });

  test('given a promotion asked for and then a round that reached no node, when the promotion answers, then its follow-ups wait until a node answers', () => {
    const promoting = detachedAfterCrash(step(start, round(crashedRound(T0, 3), T0)), T0 + 200);
    assert.deepEqual(given(promoting).when(result(promoting, 'promote', 'pg2', T0 + 300)).intents().map((i) => i.action), ['endpoints'], 'seen, the endpoints move at once');
    const lone = step(promoting, round(timedOut(T0 + 250, 1), T0 + 250));
    const t = given(lone).when(result(lone, 'promote', 'pg2', T0 + 300));
    assert.equal(t.one('Promoted').node, 'pg2');
    assert.deepEqual(t.intents(), []);
  });
});
