import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, detachedAfterCrash, given, initialized, makeSpec, obs, result, round, stateOf, step } from './kit.ts';

const spec = makeSpec();
const start = initialized(spec);

describe('rule 4: promote, re-point, switch endpoints', () => {
  const promoting = detachedAfterCrash(step(start, round(crashedRound(T0, 3), T0)), T0 + 200);

  test('given the promotion succeeded, then pg2 is primary, pg3 is re-pointed and the writer endpoint is moved', () => {
    const t = given(promoting).when(result(promoting, 'promote', 'pg2', T0 + 300));
    assert.equal(t.one('Promoted').node, 'pg2');
    assert.equal(t.state.primary, 'pg2');
    assert.equal(t.state.term, 2);
    assert.deepEqual(t.state.deposed, { pg1: T0 + 300 }, 'pg1 deposed when pg2 was promoted');
    // pg3 was detached before the promotion (its follow answered just now): only the endpoints
    // move. Should the detach have left it following no one, the stray-standby rule re-points it.
    assert.deepEqual(
      t.intents().map((i) => [i.action, i.node, i.primary ?? i.readers?.join(',')]),
      [['endpoints', 'pg2', 'pg3']],
    );
  });

  test('given a standby that has followed no one for longer than the failure window, then it is rewound onto the primary and follows it', () => {
    const now = T0 + 60_000;
    const history = [...initialized()];
    const orphan = [obs.primary('pg1', now, ['pg2']), obs.standby('pg2', now, 'pg1'), obs.standby('pg3', now, null, { receiverSince: now - 5_000 })];
    const t = given(history).when(round(orphan, now));
    assert.deepEqual(t.intents('rewind').map((i) => [i.node, i.primary]), [['pg3', 'pg1']]);
    const asked = t.events.find((e) => e.type === 'ActionRequested' && e.intent.action === 'rewind');
    assert.match(asked?.reason ?? '', /followed no one/);
  });

  test('given a standby whose receiver is only reconnecting, then nothing is asked of it', () => {
    const now = T0 + 60_000;
    const reconnecting = [obs.primary('pg1', now, ['pg2']), obs.standby('pg2', now, 'pg1'), obs.standby('pg3', now, null, { receiverSince: now - 100 })];
    assert.deepEqual(given([...initialized()]).when(round(reconnecting, now)).intents('rewind'), []);
  });

  test('given the endpoints moved, then the failover completes', () => {
    const promoted = step(promoting, result(promoting, 'promote', 'pg2', T0 + 300));
    const t = given(promoted).when(result(promoted, 'endpoints', 'pg2', T0 + 310));
    const done = t.one('FailoverCompleted');
    assert.deepEqual([done.from, done.to, done.term], ['pg1', 'pg2', 2]);
    // The log says how long the change of primary took: from its FailoverStarted to now.
    const started = promoted.find((e) => e.type === 'FailoverStarted');
    assert.ok(started);
    assert.equal(done.startedAt, started.at);
    assert.equal(done.at - done.startedAt!, T0 + 310 - started.at);
    assert.equal(t.state.writer, 'pg2');
    assert.equal(t.state.failover, null);
  });

  test('given decide crashed after the agent promoted pg2 but before the result was logged, when pg2 reports itself primary, then the promotion is recorded once', () => {
    const lost = stateOf(promoting).pending.filter((p) => p.intent.action === 'promote');
    assert.equal(lost.length, 1);
    // The reactor's answer never reached the log; the promote intent failed on retry with a timeout.
    const afterFailure = step(promoting, result(promoting, 'promote', 'pg2', T0 + 5000, false));
    const now = T0 + 5250;
    const rounds = [obs.failing('pg1', now, 20), obs.primary('pg2', now, []), obs.standby('pg3', now, null)];
    const t = given(afterFailure).when(round(rounds, now));
    assert.equal(t.one('Promoted').node, 'pg2');
    const again = given([...afterFailure, ...t.events]).when(round(rounds, now + 250));
    assert.ok(!again.types.includes('Promoted'));
  });

  test('given a late duplicate answer to an intent already settled, then nothing changes', () => {
    const id = stateOf(promoting).pending.find((p) => p.intent.action === 'promote')!.intent.id;
    const promoted = step(promoting, result(promoting, 'promote', 'pg2', T0 + 300));
    const t = given(promoted).when({ type: 'actionResult', now: T0 + 400, intentId: id, ok: true, reason: 'done', detail: {} });
    assert.deepEqual(t.types, []);
  });
});
