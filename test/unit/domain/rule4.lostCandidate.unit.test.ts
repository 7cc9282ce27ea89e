import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, detachedAfterCrash, given, initialized, lsn, makeSpec, obs, result, round, step } from './kit.ts';

const spec = makeSpec();
const start = initialized(spec);

describe('a candidate lost after its promotion was asked for', () => {
  const promoting = detachedAfterCrash(step(start, round(crashedRound(T0, 3), T0)), T0 + 200);
  // The promote's answer was lost; pg2 then stopped (its lease lapsed with nothing streaming from it, so it fenced itself).
  const refused = step(promoting, result(promoting, 'promote', 'pg2', T0 + 2500, false));
  const candidateDown = (now: number) => [obs.failing('pg1', now, 20), obs.failing('pg2', now, 8), obs.standby('pg3', now, 'pg2')];

  test('given the candidate down, then the failover waits for it: it may be primary already, holding commits no one else has', () => {
    const t = given(refused).when(round(candidateDown(T0 + 2750), T0 + 2750));
    assert.deepEqual(t.intents(), []);
    assert.ok(!t.types.includes('FailoverAborted'));
    assert.equal(t.state.failover?.step, 'promoting');
  });

  test('given the candidate down but its agent renewing its lease, when actionTimeoutMs has passed since the refusal, then the promotion is asked again (a primary that stopped itself comes back)', () => {
    const now = T0 + 2500 + makeSpec().timing.actionTimeoutMs;
    const renewing = [obs.failing('pg1', now, 20), obs.failing('pg2', now, 8, { lease: { version: 9, changedSeenAt: now - 100, term: 2 } }), obs.standby('pg3', now, 'pg2')];
    const t = given(refused).when(round(renewing, now));
    assert.deepEqual(t.intents().map((i) => `${i.action} ${i.node} t${i.term}`), ['promote pg2 t2']);
    assert.match(t.one('ActionRequested').reason, /its agent renews its lease/);
    assert.equal(t.state.failover?.step, 'promoting');
  });

  test("given the candidate down and its agent's last renewal a standby's (a TTL 5 s longer), when it was seen 3.5 s ago, then its agent still counts as renewing and the promotion is asked again", () => {
    // A standby's agent renews every 2 × TTL: 3.5 s without a change is its cadence, not a dead agent.
    const now = T0 + 2500 + makeSpec().timing.actionTimeoutMs;
    const lease = (ttlMs: number) => ({ version: 9, changedSeenAt: now - 3_500, term: 2, ttlMs });
    const at = (ttlMs: number) => [obs.failing('pg1', now, 20), obs.failing('pg2', now, 8, { lease: lease(ttlMs) }), obs.standby('pg3', now, 'pg2')];
    assert.deepEqual(given(refused).when(round(at(spec.timing.leaseTtlMs + 5_000), now)).intents().map((i) => `${i.action} ${i.node}`), ['promote pg2']);
    assert.deepEqual(given(refused).when(round(at(spec.timing.leaseTtlMs), now)).intents(), [], "a primary's lease 3.5 s quiet: its agent is not renewing");
  });

  test('given the candidate down and its agent silent, then nothing is asked: no one would answer', () => {
    const now = T0 + 2500 + makeSpec().timing.actionTimeoutMs;
    // pg1's host times out (not refusing: no lease witness), so nothing proves pg2 stopped (stuck.unit.test.ts has the case where something does).
    const silent = [obs.failing('pg1', now, 20, {}, 'timeout'), obs.failing('pg2', now, 40), obs.standby('pg3', now, 'pg2')];
    const t = given(refused).when(round(silent, now));
    assert.deepEqual(t.intents(), []);
    assert.ok(!t.types.includes('FailoverAborted'));
  });

  test('given the candidate answers again as primary, then its promotion is recorded', () => {
    const now = T0 + 3000;
    const t = given(refused).when(round([obs.failing('pg1', now, 20), obs.primary('pg2', now, ['pg3']), obs.standby('pg3', now, 'pg2')], now));
    assert.equal(t.one('Promoted').node, 'pg2');
  });

  test('given the candidate no longer qualifies after its promotion was asked for, then it is stopped through its agent before the failover is called off, and deposed', () => {
    // pg4 received more WAL than pg2 (it was out of sight when pg2 was chosen).
    const s4 = makeSpec({}, ['pg1', 'pg2', 'pg3', 'pg4']);
    const at = (now: number, pg4: number) => [
      obs.failing('pg1', now, 3),
      obs.standby('pg2', now, null, { receiverSince: now - 1000 }),
      obs.standby('pg3', now, null, { receiverSince: now - 1000 }),
      obs.standby('pg4', now, null, { receiverSince: now - 1000, receiveLsn: lsn(pg4), replayLsn: lsn(pg4) }),
    ];
    let h = step(initialized(s4), round(at(T0, 1000), T0));
    h = step(h, result(h, 'follow', 'pg3', T0 + 100));
    h = step(h, result(h, 'follow', 'pg4', T0 + 150));
    // The promote timed out: the agent may still carry it out.
    h = step(h, result(h, 'promote', 'pg2', T0 + 200, false));
    const t = given(h).when(round(at(T0 + 250, 2000), T0 + 250));
    assert.ok(!t.types.includes('FailoverAborted'), 'called off while pg2 may still be promoted');
    assert.ok(!t.types.includes('FailoverStarted'));
    assert.deepEqual(
      t.intents().map((i) => [i.action, i.node, i.term]),
      [['fence', 'pg2', 2]],
    );
    const asked = [...h, ...t.events];
    const fenced = given(asked).when(result(asked, 'fence', 'pg2', T0 + 300));
    assert.match(fenced.one('FailoverAborted').reason, /pg2 no longer qualifies and its agent confirms PostgreSQL stopped/);
    assert.deepEqual(fenced.state.deposed, { pg2: T0 + 300 }, 'pg2 deposed when the failover was called off');
  });
});
