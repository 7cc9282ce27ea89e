import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, detachedAfterCrash, given, healthyRound, initialized, lsn, makeSpec, obs, result, stateOf, step } from './kit.ts';

const spec = makeSpec();
const start = initialized(spec);
const round = (observations: ReturnType<typeof healthyRound>, now: number) => ({ type: 'probeRound' as const, now, observations });

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

  test('given no node answers, when a round arrives, then the control plane is blind: it reports and requests nothing', () => {
    const t = given(start).when(round([obs.failing('pg1', T0, 5), obs.failing('pg2', T0, 5), obs.failing('pg3', T0, 5)], T0));
    assert.deepEqual(t.types, ['ControlPlaneBlind']);
    assert.equal(t.intents().length, 0);
    assert.equal(t.state.blind, true);
  });

  test('given only stale observations, when a tick arrives, then the control plane is blind', () => {
    const old = crashedRound(T0, 10);
    const t = given(start).when({ type: 'tick', now: T0 + 3_600_000, observations: old });
    assert.deepEqual(t.types, ['ControlPlaneBlind']);
  });

  test('given the control plane was blind, when nodes answer again, then it says so once', () => {
    const blind = step(start, round([obs.failing('pg1', T0, 5), obs.failing('pg2', T0, 5), obs.failing('pg3', T0, 5)], T0));
    const t = given(blind).when(round(healthyRound(T0 + 250), T0 + 250));
    assert.ok(t.types.includes('ControlPlaneSighted'));
    assert.equal(t.state.blind, false);
  });
});

describe('rule 2: which standby is promoted', () => {
  test('given a nofailover standby with the highest priority, then the other standby is the candidate', () => {
    const s = makeSpec({
      nodes: [
        { name: 'pg1', host: 'h1', port: 5432, agent: 'http://h1:8008' },
        { name: 'pg2', host: 'h2', port: 5432, agent: 'http://h2:8008', tags: { priority: 900, nofailover: true } },
        { name: 'pg3', host: 'h3', port: 5432, agent: 'http://h3:8008' },
      ],
    });
    const t = given(initialized(s)).when(round(crashedRound(T0, 3), T0));
    assert.equal(t.one('FailoverStarted').to, 'pg3');
  });

  test('given a synchronous quorum where pg3 received more WAL, then pg3 is the candidate whatever the priorities', () => {
    const s = makeSpec({
      nodes: [
        { name: 'pg1', host: 'h1', port: 5432, agent: 'http://h1:8008' },
        { name: 'pg2', host: 'h2', port: 5432, agent: 'http://h2:8008', tags: { priority: 900 } },
        { name: 'pg3', host: 'h3', port: 5432, agent: 'http://h3:8008', tags: { priority: 1 } },
      ],
    });
    const t = given(initialized(s)).when(round(crashedRound(T0, 3, { pg2: 900, pg3: 1000 }), T0));
    const started = t.one('FailoverStarted');
    assert.equal(started.to, 'pg3');
    assert.match(started.reason, /highest LSN/);
  });

  test('given ANY 1 of 2 and one quorum member unreachable, then no failover: the other may hold the only copy of a commit', () => {
    const rounds = [obs.failing('pg1', T0, 3), obs.standby('pg2', T0, null), obs.failing('pg3', T0, 3)];
    const t = given(start).when(round(rounds, T0));
    assert.ok(!t.types.includes('FailoverStarted'));
    assert.match(t.one('FailoverImpossible').reason, /2 members must be reachable/);
  });

  test('given the failover is impossible, then it is reported once, not every round', () => {
    const rounds = (at: number) => [obs.failing('pg1', at, 3), obs.standby('pg2', at, null), obs.failing('pg3', at, 3)];
    const after = step(start, round(rounds(T0), T0));
    const t = given(after).when(round(rounds(T0 + 250), T0 + 250));
    assert.ok(!t.types.includes('FailoverImpossible'));
  });

  test('given async mode and pg2 beyond maximumLagOnFailover, then only pg3 is a candidate', () => {
    const s = makeSpec({ replication: { mode: 'async', maximumLagOnFailover: 100 } });
    const t = given(initialized(s)).when(round(crashedRound(T0, 3, { pg2: 500, pg3: 950 }), T0));
    assert.equal(t.one('FailoverStarted').to, 'pg3');
  });

  test('given async mode and every standby beyond the limit, then the failover is impossible and says why', () => {
    const s = makeSpec({ replication: { mode: 'async', maximumLagOnFailover: 10 } });
    const t = given(initialized(s)).when(round(crashedRound(T0, 3, { pg2: 500, pg3: 600 }), T0));
    assert.match(t.one('FailoverImpossible').reason, /pg2: lag 500 bytes exceeds maximumLagOnFailover 10/);
    assert.equal(t.intents().length, 0);
  });
});

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

  test('given the candidate down and its agent silent, then nothing is asked: no one would answer', () => {
    const now = T0 + 2500 + makeSpec().timing.actionTimeoutMs;
    const silent = [obs.failing('pg1', now, 20), obs.failing('pg2', now, 40), obs.standby('pg3', now, 'pg2')];
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

describe('rule 5: the old primary rejoins', () => {
  const started = step(start, round(crashedRound(T0, 3), T0));
  // pg1's agent died with it: the best-effort fence got no answer.
  const promoting = detachedAfterCrash(step(started, result(started, 'fence', 'pg1', T0 + 50, false)), T0 + 100);
  const promoted = step(promoting, result(promoting, 'promote', 'pg2', T0 + 300));
  const completed = step(promoted, result(promoted, 'endpoints', 'pg2', T0 + 310));
  const afterCrash = (now: number, pg1: ReturnType<typeof obs.failing>) => [pg1, obs.primary('pg2', now, ['pg3']), obs.standby('pg3', now, 'pg2')];

  test('given pg1 comes back as a primary of the old term, then it is fenced at the new term', () => {
    const now = T0 + 2000;
    const t = given(completed).when(round(afterCrash(now, obs.primary('pg1', now, [])), now));
    assert.deepEqual(
      t.intents().map((i) => [i.action, i.node, i.term]),
      [['fence', 'pg1', 2]],
    );
  });

  test('given pg1 is down but its agent renews its lease again, then it is rewound onto pg2', () => {
    const now = T0 + 10_000;
    const pg1 = obs.failing('pg1', now, 40, { lease: { version: 9, changedSeenAt: now - 200, term: 1 } });
    const t = given(completed).when(round(afterCrash(now, pg1), now));
    assert.deepEqual(
      t.intents().map((i) => [i.action, i.node, i.primary]),
      [['rewind', 'pg1', 'pg2']],
    );
  });

  test('given pg1 is down with its agent back but the new primary down too, then no rewind is asked: there is nothing to copy from', () => {
    const now = T0 + 10_000;
    const pg1 = obs.failing('pg1', now, 40, { lease: { version: 9, changedSeenAt: now - 200, term: 1 } });
    const t = given(completed).when(round([pg1, obs.failing('pg2', now, 2), obs.standby('pg3', now, null)], now));
    assert.deepEqual(t.intents('rewind'), []);
  });

  test('given pg1 is down and its agent silent, then nothing is asked of it', () => {
    const now = T0 + 10_000;
    const pg1 = obs.failing('pg1', now, 40, { lease: { version: 1, changedSeenAt: T0 - 1000, term: 1 } });
    const t = given(completed).when(round(afterCrash(now, pg1), now));
    assert.deepEqual(t.intents(), []);
  });

  test('given the rewind succeeded, then pg1 is no longer deposed', () => {
    const now = T0 + 10_000;
    const pg1 = obs.failing('pg1', now, 40, { lease: { version: 9, changedSeenAt: now - 200, term: 1 } });
    const asked = step(completed, round(afterCrash(now, pg1), now));
    const t = given(asked).when(result(asked, 'rewind', 'pg1', now + 900));
    assert.deepEqual(t.state.deposed, {});
  });
});

describe('readers follow health and lag', () => {
  test('given pg3 falls beyond readLagLimit, then it leaves the reader endpoint within the round', () => {
    const now = T0 + 250;
    const rounds = [obs.primary('pg1', now, ['pg2', 'pg3']), obs.standby('pg2', now, 'pg1'), obs.standby('pg3', now, 'pg1', { lagBytes: spec.readLagLimit + 1 })];
    const t = given(start).when(round(rounds, now));
    assert.ok(t.types.includes('LagExceeded'));
    assert.deepEqual(t.intents('endpoints')[0]?.readers, ['pg2']);
  });

  test('given the readers already match, then a healthy round appends nothing', () => {
    const t = given(start).when(round(healthyRound(T0 + 250), T0 + 250));
    const synced = [...start, ...t.events];
    const again = given(synced).when(round(healthyRound(T0 + 500), T0 + 500));
    assert.deepEqual(again.types, []);
  });
});

describe('lsn helpers', () => {
  test('lsn builder round-trips through the domain representation', () => {
    assert.equal(lsn(0x1_0000_0010), '1/10');
  });
});
