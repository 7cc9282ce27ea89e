import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, given, healthyRound, initialized, makeSpec, obs, others, result, round, stateOf, step } from './kit.ts';

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
    const lease = { version: 4, changedSeenAt: T0 - 500, term: 1, members: others('pg1'), ttlMs: 3_000 };
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

/*
 * Issue 12: the lease proof and the agent's self-fence are two sides of one invariant
 * (ARCHITECTURE.md, rule 3): whenever the decider counts a primary as fenced by its lease,
 * that primary's agent has stopped it, whatever the control plane could not see.
 */
describe('rule 3: the lease proof holds only where the agent has stopped its primary', () => {
  const asyncSpec = makeSpec({ replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
  const wait = asyncSpec.timing.fenceWaitMs;

  test('given pg3 out of sight and pg2 off pg1 for less than fenceWaitMs, when pg1\'s lease has been quiet for fenceWaitMs, then no lease proof until pg2 has been off pg1 that long', () => {
    // A partition {pg1, pg3} | {control plane, pg2}: pg3 may still stream from pg1, so only a
    // standby seen off pg1 for the TTL plus margin shows that pg1's agent saw it go.
    const lease = { version: 4, changedSeenAt: T0 - 500, term: 1, members: others('pg1'), ttlMs: 3_000 };
    const at = (now: number, pg2OffSince: number) => [
      obs.failing('pg1', now, 20, { lease, failingSince: T0 - 750 }, 'timeout'),
      obs.standby('pg2', now, null, { receiverSince: pg2OffSince }),
      obs.failing('pg3', now, 20, {}, 'timeout'),
    ];
    const now = T0 - 500 + wait;
    const offSince = now - 1_000;
    const t = given(initialized(asyncSpec)).when(round(at(now, offSince), now));
    assert.ok(t.types.includes('FailoverStarted'));
    assert.ok(!t.types.includes('Fenced'), t.types.join(', '));
    assert.deepEqual(t.intents('promote'), []);

    const h = [...initialized(asyncSpec), ...t.events];
    const later = offSince + wait;
    const then = given(h).when(round(at(later, offSince), later));
    assert.equal(then.one('Fenced').by, 'lease');
    assert.match(then.one('Fenced').reason, /pg2/);
    assert.equal(then.intents('promote')[0]?.node, 'pg2');
  });

  test('given pg3 out of sight and pg2 power-cycled during the failover (its host refuses connections), when pg1\'s lease has been quiet for fenceWaitMs and pg2 has refused that long, then pg1 is fenced by its lease with pg2 the witness', () => {
    // The partition test on real servers found the failover stuck in fencing: a refused standby
    // was no witness, though no PostgreSQL runs there to stream from pg1 and pg1's agent sees it gone.
    const lease = { version: 4, changedSeenAt: T0 - 500, term: 1, members: others('pg1'), ttlMs: 3_000 };
    const at = (now: number, refusedSince: number) => [
      obs.failing('pg1', now, 20, { lease, failingSince: T0 - 750, lastKnownWalAt: T0 - 800 }, 'timeout'),
      obs.failing('pg2', now, Math.max(1, Math.round((now - refusedSince) / 250)), { failingSince: refusedSince, lastKnownWalLsn: '0/3000100' }),
      obs.failing('pg3', now, 20, {}, 'timeout'),
    ];
    // The failover started while pg2 was seen off pg1 and streaming from no one.
    const started = step(initialized(asyncSpec), round([obs.failing('pg1', T0, 20, { lease, failingSince: T0 - 750, lastKnownWalAt: T0 - 800 }, 'timeout'), obs.standby('pg2', T0, null, { receiverSince: T0 - 2_000 }), obs.failing('pg3', T0, 20, {}, 'timeout')], T0));
    assert.equal(stateOf(started).failover?.step, 'fencing');
    const refusedSince = T0 + 250;
    const early = refusedSince + wait - 500;
    const t = given(started).when(round(at(early, refusedSince), early));
    assert.ok(!t.types.includes('Fenced'), `pg2 has refused for ${wait - 500} ms only: ${t.types.join(', ')}`);

    const later = refusedSince + wait;
    const then = given([...started, ...t.events]).when(round(at(later, refusedSince), later));
    assert.equal(then.one('Fenced').by, 'lease');
    assert.match(then.one('Fenced').reason, /pg2 has been off it/);
  });

  test('given no spec standby seen off pg1 (the only one in sight streams from an address that names no node), when the lease has been quiet for fenceWaitMs, then no lease proof', () => {
    const lease = { version: 4, changedSeenAt: T0 - 500, term: 1, members: others('pg1'), ttlMs: 3_000 };
    const now = T0 - 500 + wait + 10_000;
    const unknownUpstream = { status: 'streaming', upstream: null, senderHost: '10.0.0.99', senderPort: 5432, lastMsgReceiptAt: now };
    const rounds = [
      obs.failing('pg1', now, 40, { lease, failingSince: T0 - 750 }, 'timeout'),
      obs.standby('pg2', now, null),
      obs.standby('pg3', now, null, { walReceiver: unknownUpstream }),
    ];
    const started = step(initialized(asyncSpec), round(rounds, now));
    assert.ok(stateOfFailover(started) === 'promoting', 'pg2 is a witness: fenced');
    const pg2Gone = [rounds[0]!, obs.failing('pg2', now, 40, {}, 'timeout'), rounds[2]!];
    const t = given(initialized(asyncSpec)).when(round(pg2Gone, now));
    assert.ok(!t.types.includes('Fenced'), t.types.join(', '));
  });

  test('given pg1\'s lease names no members (its agent never learned the spec) or not the one standby seen off it (added since), when it has been quiet for fenceWaitMs, then no lease proof', () => {
    const now = T0 - 500 + wait;
    const at = (members: string[] | null) => [
      obs.failing('pg1', now, 20, { lease: { version: 4, changedSeenAt: T0 - 500, term: 1, members, ttlMs: 3_000 }, failingSince: T0 - 750 }, 'timeout'),
      obs.standby('pg2', now, null),
      obs.failing('pg3', now, 20, {}, 'timeout'),
    ];
    for (const members of [null, ['pg3']]) {
      const t = given(initialized(asyncSpec)).when(round(at(members), now));
      assert.ok(t.types.includes('FailoverStarted'));
      assert.ok(!t.types.includes('Fenced'), `${JSON.stringify(members)}: ${t.types.join(', ')}`);
    }
    assert.equal(given(initialized(asyncSpec)).when(round(at(['pg2', 'pg3']), now)).one('Fenced').by, 'lease');
  });

  test('given pg1\'s agent self-fences after a longer TTL than the spec\'s leaseTtlMs, or does not say its TTL, when its lease has been quiet for fenceWaitMs, then no lease proof (with a longer TTL, one once its extra has passed too)', () => {
    const now = T0 - 500 + wait;
    const at = (ttlMs: number | undefined, t = now) => [
      obs.failing('pg1', t, 20, { lease: { version: 4, changedSeenAt: T0 - 500, term: 1, members: others('pg1'), ...(ttlMs === undefined ? {} : { ttlMs }) }, failingSince: T0 - 750 }, 'timeout'),
      obs.standby('pg2', t, null),
      obs.standby('pg3', t, null),
    ];
    const longer = given(initialized(asyncSpec)).when(round(at(asyncSpec.timing.leaseTtlMs + 1), now));
    assert.ok(!longer.types.includes('Fenced'), longer.types.join(', '));
    // Waited for as much longer as its TTL is: then it proves the stop (its margin over its own TTL holds).
    assert.equal(given(initialized(asyncSpec)).when(round(at(asyncSpec.timing.leaseTtlMs + 1, now + 1), now + 1)).one('Fenced').by, 'lease');
    const unsaid = given(initialized(asyncSpec)).when(round(at(undefined), now));
    assert.ok(!unsaid.types.includes('Fenced'), unsaid.types.join(', '));
    assert.equal(given(initialized(asyncSpec)).when(round(at(asyncSpec.timing.leaseTtlMs), now)).one('Fenced').by, 'lease');
  });

  test('given pg1\'s last renewal was a standby\'s (its lease stands by a TTL 5 s longer), then its lease proves the stop only after fenceWaitMs plus those 5 s', () => {
    // A standby renews every 2 × TTL and says TTL + 5 s in its lease (lib/agent/lease.ts leaseTtlFor):
    // its quiet is no news for that long, so every wait on it grows by the same 5 s.
    const ttlMs = asyncSpec.timing.leaseTtlMs + 5_000;
    const at = (t: number) => [
      obs.failing('pg1', t, 20, { lease: { version: 4, changedSeenAt: T0 - 500, term: 1, members: others('pg1'), ttlMs }, failingSince: T0 - 750 }, 'timeout'),
      obs.standby('pg2', t, null),
      obs.standby('pg3', t, null),
    ];
    const early = T0 - 500 + wait + 4_999;
    assert.ok(!given(initialized(asyncSpec)).when(round(at(early), early)).types.includes('Fenced'));
    const late = T0 - 500 + wait + 5_000;
    assert.equal(given(initialized(asyncSpec)).when(round(at(late), late)).one('Fenced').by, 'lease');
  });

  test('given pg1\'s lease last moved 6 s before it went silent, then its agent counts as alive only if its lease stood by a TTL that long', () => {
    // A standby's agent renews every 6 s: a renewal 6 s before the silence is its last on time, not a dead agent's.
    const now = T0 + 20_000;
    const at = (ttlMs: number) => [
      obs.failing('pg1', now, 20, { lease: { version: 4, changedSeenAt: T0 - 6_000, term: 1, members: others('pg1'), ttlMs }, failingSince: T0 }, 'timeout'),
      obs.standby('pg2', now, null),
      obs.standby('pg3', now, null),
    ];
    assert.ok(!given(initialized(asyncSpec)).when(round(at(asyncSpec.timing.leaseTtlMs), now)).types.includes('Fenced'));
    assert.equal(given(initialized(asyncSpec)).when(round(at(asyncSpec.timing.leaseTtlMs + 5_000), now)).one('Fenced').by, 'lease');
  });

  test('given pg1\'s lease seen changing 200 ms before the last observation, when a tick comes fenceWaitMs later with no newer observation, then the unobserved time is not counted as lease silence', () => {
    const lease = { version: 4, changedSeenAt: T0 - 200, term: 1, members: others('pg1'), ttlMs: 3_000 };
    const rounds = [obs.failing('pg1', T0, 3, { lease, failingSince: T0 - 750 }, 'timeout'), obs.standby('pg2', T0, null), obs.standby('pg3', T0, null)];
    const waiting = step(initialized(asyncSpec), round(rounds, T0));
    assert.equal(stateOfFailover(waiting), 'fencing');
    const tick = T0 + wait - 200;
    const t = given(waiting).when({ type: 'tick', now: tick, observations: rounds });
    assert.ok(!t.types.includes('Fenced'), t.types.join(', '));
    assert.deepEqual(t.intents('promote'), []);

    const observed = [obs.failing('pg1', tick, 20, { lease, failingSince: T0 - 750 }, 'timeout'), obs.standby('pg2', tick, null), obs.standby('pg3', tick, null)];
    assert.equal(given(waiting).when(round(observed, tick)).one('Fenced').by, 'lease');
  });

  test('given a lease that could not be read (unknown), when its node has been silent for long, then no lease proof', () => {
    const now = T0 + 20_000;
    const rounds = [obs.failing('pg1', now, 80, { lease: null, failingSince: T0 }, 'timeout'), obs.standby('pg2', now, null), obs.standby('pg3', now, null)];
    const t = given(initialized(asyncSpec)).when(round(rounds, now));
    assert.ok(t.types.includes('FailoverStarted'));
    assert.ok(!t.types.includes('Fenced'));
  });

  test('given pg1 answers as primary with its lease quiet for 10 s (its agent dead), when failover --to pg2 --force, then the lease proves nothing and pg1 is only asked to stop through its agent', () => {
    const lease = { version: 4, changedSeenAt: T0 - 10_000, term: 1, members: others('pg1'), ttlMs: 3_000 };
    const rounds = [obs.primary('pg1', T0, [], { lease }), obs.standby('pg2', T0, null), obs.standby('pg3', T0, null)];
    const t = given(initialized(asyncSpec)).when({ type: 'failover', now: T0, to: 'pg2', force: true, requestedBy: 'alice', observations: rounds });
    assert.equal(t.one('FailoverStarted').kind, 'manual');
    assert.ok(!t.types.includes('Fenced'), t.types.join(', '));
    assert.deepEqual(
      t.intents().map((i) => [i.action, i.node]),
      [['fence', 'pg1']],
    );
    const h = [...initialized(asyncSpec), ...t.events];
    const later = T0 + 1_000;
    const again = given(h).when(round([obs.primary('pg1', later, [], { lease }), obs.standby('pg2', later, null), obs.standby('pg3', later, null)], later));
    assert.ok(!again.types.includes('Fenced'), again.types.join(', '));
    assert.deepEqual(again.intents('promote'), []);
  });

  test('given a failover fenced by lease and switching its endpoints, when the deposed pg1 is seen serving as primary again, then it is fenced', () => {
    const lease = { version: 4, changedSeenAt: T0 - 500, term: 1, members: others('pg1'), ttlMs: 3_000 };
    const now = T0 - 500 + wait;
    const rounds = [obs.failing('pg1', now, 20, { lease, failingSince: T0 - 750 }, 'timeout'), obs.standby('pg2', now, null), obs.standby('pg3', now, null)];
    const fenced = step(initialized(asyncSpec), round(rounds, now));
    assert.equal(stateOf(fenced).failover?.fencedBy, 'lease');
    const switching = step(fenced, result(fenced, 'promote', 'pg2', now + 100));
    assert.equal(stateOfFailover(switching), 'switching');
    const back = now + 500;
    const serving = [obs.primary('pg1', back, ['pg3'], { lease }), obs.primary('pg2', back, []), obs.standby('pg3', back, 'pg1')];
    const t = given(switching).when(round(serving, back));
    assert.deepEqual(
      t.intents('fence').map((i) => [i.node, i.term]),
      [['pg1', 2]],
    );
  });
});

const stateOfFailover = (h: Parameters<typeof stateOf>[0]) => stateOf(h).failover?.step ?? null;
