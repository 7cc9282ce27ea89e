import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, given, healthyRound, initialized, makeSpec, obs, round, step } from './kit.ts';

const spec = makeSpec();
const start = initialized(spec);

describe('rule 1: a primary is failed only after the failure window', () => {
  test('given pg1 failed fewer probes than the threshold, when a round arrives, then nothing starts', () => {
    const t = given(start).when(round(crashedRound(T0 + 500, 2), T0 + 500));
    assert.deepEqual(t.types, []);
  });

  test('given pg1 failed the threshold and its standbys lost their receivers, when a round arrives, then a failover starts in term 2', () => {
    const t = given(start).when(round(crashedRound(T0 + 750, 3), T0 + 750));
    const started = t.one('FailoverStarted');
    assert.equal(started.term, 2);
    assert.equal(started.from, 'pg1');
    assert.match(started.reason, /pg1 failed 3 probes in a row \(refused/);
    assert.ok(t.types.includes('NodeDown'));
  });

  test('given the failure window not yet passed on the prober\'s clock, when decide runs on a clock 400 ms ahead, then nothing starts: the window is measured on the observations', () => {
    const window = spec.timing.probeIntervalMs * spec.timing.failureThreshold;
    const since = T0 - (window - 150);
    const crash = crashedRound(T0, 3).map((o) => (o.reachable ? { ...o, receiverSince: since } : { ...o, failingSince: since }));
    assert.ok(!given(start).when(round(crash, T0 + 400)).types.includes('FailoverStarted'));
    assert.equal(given(start).when(round(crash.map((o) => ({ ...o, at: T0 + 200 })), T0 + 400)).one('FailoverStarted').from, 'pg1', 'once the observations show it, the window has passed');
  });

  test('given no node answers, when a round arrives, then the control plane is blind: it reports and requests nothing', () => {
    const t = given(start).when(round([obs.failing('pg1', T0, 5, {}, 'timeout'), obs.failing('pg2', T0, 5, {}, 'timeout'), obs.failing('pg3', T0, 5, {}, 'timeout')], T0));
    assert.deepEqual(t.types, ['ControlPlaneBlind']);
    assert.equal(t.intents().length, 0);
    assert.equal(t.state.blind, true);
  });

  test('given every node refuses connections (the hosts answer, nothing listens), when a round arrives, then the control plane is not blind: the nodes are down', () => {
    const t = given(start).when(round([obs.failing('pg1', T0, 5), obs.failing('pg2', T0, 5), obs.failing('pg3', T0, 5)], T0));
    assert.ok(!t.types.includes('ControlPlaneBlind') && !t.types.includes('ControlPlaneSightLost'), t.types.join(', '));
    assert.equal(t.state.blind, false);
  });

  test('given only stale observations, when a tick arrives, then the control plane is blind', () => {
    const old = crashedRound(T0, 10);
    const t = given(start).when({ type: 'tick', now: T0 + 3_600_000, observations: old });
    assert.deepEqual(t.types, ['ControlPlaneBlind']);
  });

  test('given the control plane was blind, when nodes answer again, then it says so once', () => {
    const blind = step(start, round([obs.failing('pg1', T0, 5, {}, 'timeout'), obs.failing('pg2', T0, 5, {}, 'timeout'), obs.failing('pg3', T0, 5, {}, 'timeout')], T0));
    const t = given(blind).when(round(healthyRound(T0 + 250), T0 + 250));
    assert.ok(t.types.includes('ControlPlaneSighted'));
    assert.equal(t.state.blind, false);
  });
});
