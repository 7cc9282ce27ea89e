import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, given, healthyRound, initialized, makeSpec, obs, result, round, step } from './kit.ts';

const spec = makeSpec();
const start = initialized(spec);

describe('rule 3: fence before promote', () => {
  test('given a standby still streaming from an unreachable primary (partition), then no failover starts', () => {
    const rounds = [obs.failing('pg1', T0, 9, {}, 'timeout'), obs.standby('pg2', T0, 'pg1'), obs.standby('pg3', T0, null)];
    const t = given(start).when(round(rounds, T0));
    assert.ok(!t.types.includes('FailoverStarted'));
    assert.equal(t.intents().length, 0);
  });

  test('given every synchronous standby reachable and none streaming, then pg1 is fenced by the quorum and pg3 detached from it before any promotion', () => {
    const t = given(start).when(round(crashedRound(T0, 3), T0));
    const fenced = t.one('Fenced');
    assert.equal(fenced.by, 'syncQuorum');
    assert.deepEqual(t.types.slice(-4), ['FailoverStarted', 'ActionRequested', 'Fenced', 'ActionRequested']);
    // The follow says it is a detach, so the reactor does not wait for streaming from a standby.
    assert.deepEqual(
      t.intents().map((i) => [i.action, i.node, i.primary, i.term, i.detach]),
      [
        ['fence', 'pg1', null, 2, false],
        ['follow', 'pg3', 'pg2', 2, true],
      ],
    );
  });

  test('given pg3 was detached from pg1, then pg2 is promoted', () => {
    const started = step(start, round(crashedRound(T0, 3), T0));
    const t = given(started).when(result(started, 'follow', 'pg3', T0 + 200));
    assert.deepEqual(
      t.intents().map((i) => [i.action, i.node, i.term]),
      [['promote', 'pg2', 2]],
    );
  });

  test('given the standbys lost their primary only just now, then no failover starts until the window has passed since', () => {
    const fresh = crashedRound(T0, 3).map((o) => (o.node === 'pg1' ? o : { ...o, receiverSince: T0 - 100 }));
    assert.ok(!given(start).when(round(fresh, T0)).types.includes('FailoverStarted'));
  });

  test('given async mode and a fresh lease on pg1, then the failover waits in fencing without promoting', () => {
    const s = makeSpec({ replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    const rounds = [obs.failing('pg1', T0, 3, { lease: { version: 4, changedSeenAt: T0 - 500, term: 1 } }), obs.standby('pg2', T0, null), obs.standby('pg3', T0, null)];
    const t = given(initialized(s)).when(round(rounds, T0));
    assert.ok(t.types.includes('FailoverStarted'));
    assert.ok(!t.types.includes('Fenced'));
    assert.deepEqual(t.intents('promote'), []);
    assert.equal(t.state.failover?.step, 'fencing');
  });

  test('given async mode, when the lease has not changed for fenceWaitMs, then pg1 is fenced by its lease and the candidate promoted', () => {
    const s = makeSpec({ replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    const lease = { version: 4, changedSeenAt: T0 - 500, term: 1 };
    const at = (now: number) => [
      obs.failing('pg1', now, 3 + Math.round((now - T0) / 250), { lease, failingSince: T0 - 750 }),
      obs.standby('pg2', now, null),
      obs.standby('pg3', now, null),
    ];
    const waiting = step(initialized(s), round(at(T0), T0));
    const later = T0 - 500 + s.timing.fenceWaitMs;
    const t = given(waiting).when(round(at(later), later));
    assert.equal(t.one('Fenced').by, 'lease');
    assert.equal(t.intents('promote').length, 1);
  });

  test('given async mode and an agent that stopped renewing before its node went silent, then its lease proves nothing', () => {
    const s = makeSpec({ replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    const now = T0 + 20_000;
    const rounds = [obs.failing('pg1', now, 80, { lease: { version: 4, changedSeenAt: T0 - 10_000, term: 1 }, failingSince: T0 }), obs.standby('pg2', now, null), obs.standby('pg3', now, null)];
    const t = given(initialized(s)).when(round(rounds, now));
    assert.ok(t.types.includes('FailoverStarted'));
    assert.ok(!t.types.includes('Fenced'));
  });

  test('given async mode, when pg1\'s agent confirms the stop, then pg1 is fenced by the agent and the candidate promoted', () => {
    const s = makeSpec({ replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    const rounds = [obs.failing('pg1', T0, 3, { lease: { version: 4, changedSeenAt: T0, term: 1 } }), obs.standby('pg2', T0, null), obs.standby('pg3', T0, null)];
    const waiting = step(initialized(s), round(rounds, T0));
    const t = given(waiting).when(result(waiting, 'fence', 'pg1', T0 + 100));
    assert.equal(t.one('Fenced').by, 'agent');
    assert.equal(t.intents('promote')[0]?.node, 'pg2');
  });

  test('given a failover waiting in fencing, when pg1 answers again as primary, then the failover is aborted with nothing changed', () => {
    const s = makeSpec({ replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    const rounds = [obs.failing('pg1', T0, 3, { lease: { version: 4, changedSeenAt: T0, term: 1 } }), obs.standby('pg2', T0, null), obs.standby('pg3', T0, null)];
    const waiting = step(initialized(s), round(rounds, T0));
    const t = given(waiting).when(round(healthyRound(T0 + 250), T0 + 250));
    assert.match(t.one('FailoverAborted').reason, /pg1 answers again as primary before any promotion/);
    assert.equal(t.state.primary, 'pg1');
    assert.equal(t.state.failover, null);
  });
});
