import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, given, healthyRound, initialized, lsn, makeSpec, obs, result, round, step } from './kit.ts';

const spec = makeSpec({
  nodes: [
    { name: 'pg1', host: 'h1', port: 5432, agent: 'http://h1:8008' },
    { name: 'pg2', host: 'h2', port: 5432, agent: 'http://h2:8008' },
    { name: 'pg3', host: 'h3', port: 5432, agent: 'http://h3:8008', tags: { nofailover: true } },
  ],
});
const start = initialized(spec);
const healthy = healthyRound(T0);
const by = 'alice';

/** A round after pg1 was stopped by its agent: refused, its standbys' receivers gone, at these LSNs. */
const afterStop = (at: number, lsns: { pg2: number; pg3: number }) => [
  obs.failing('pg1', at, 1),
  obs.standby('pg2', at, null, { receiveLsn: lsn(lsns.pg2), replayLsn: lsn(lsns.pg2), receiverSince: at - 100 }),
  obs.standby('pg3', at, null, { receiveLsn: lsn(lsns.pg3), replayLsn: lsn(lsns.pg3), receiverSince: at - 100 }),
];

describe('rule 6: switchover, a planned change of primary', () => {
  test('given a healthy cluster, when a switchover to pg2 is asked, then pg1 is demoted first in term 2', () => {
    const t = given(start).when({ type: 'switchover', now: T0, to: 'pg2', requestedBy: by, observations: healthy });
    const started = t.one('FailoverStarted');
    assert.deepEqual([started.kind, started.from, started.to, started.term], ['switchover', 'pg1', 'pg2', 2]);
    assert.deepEqual(
      t.intents().map((i) => [i.action, i.node]),
      [['demote', 'pg1']],
    );
  });

  test('given pg1 stopped at its shutdown checkpoint, then pg2 is promoted only once it has replayed that LSN', () => {
    const asked = step(start, { type: 'switchover', now: T0, to: 'pg2', requestedBy: by, observations: healthy });
    const t = given(asked).when(result(asked, 'demote', 'pg1', T0 + 200, true, { checkpointLsn: lsn(2000) }));
    assert.equal(t.one('Fenced').by, 'demote');
    const [promote] = t.intents('promote');
    assert.deepEqual([promote?.node, promote?.minLsn], ['pg2', lsn(2000)]);
  });

  test('given pg2 was promoted in a switchover, then the old primary follows without a rewind', () => {
    const asked = step(start, { type: 'switchover', now: T0, to: 'pg2', requestedBy: by, observations: healthy });
    const demoted = step(asked, result(asked, 'demote', 'pg1', T0 + 200, true, { checkpointLsn: lsn(2000) }));
    const t = given(demoted).when(result(demoted, 'promote', 'pg2', T0 + 400));
    assert.deepEqual(
      t.intents().map((i) => [i.action, i.node, i.primary, i.detach]),
      [
        ['follow', 'pg1', 'pg2', false],
        ['follow', 'pg3', 'pg2', false],
        ['endpoints', 'pg2', null, false],
      ],
    );
  });

  test('given the switchover completed, then history holds started, fenced, promoted, endpoints and completed in that order', () => {
    let h = step(start, { type: 'switchover', now: T0, to: 'pg2', requestedBy: by, observations: healthy });
    h = step(h, result(h, 'demote', 'pg1', T0 + 200, true, { checkpointLsn: lsn(2000) }));
    h = step(h, result(h, 'promote', 'pg2', T0 + 400));
    h = step(h, result(h, 'endpoints', 'pg2', T0 + 410));
    const milestones = h.map((e) => e.type).filter((t) => ['FailoverStarted', 'Fenced', 'Promoted', 'FailoverCompleted'].includes(t));
    assert.deepEqual(milestones, ['FailoverStarted', 'Fenced', 'Promoted', 'FailoverCompleted']);
    assert.ok(h.every((e) => e.reason.length > 0));
  });

  test('given pg2 is being rewound, when a switchover to it is asked, then it is refused until the rewind is answered', () => {
    const rejoining = step(start, { type: 'rejoin', now: T0, node: 'pg2', requestedBy: by });
    const t = given(rejoining).when({ type: 'switchover', now: T0 + 100, to: 'pg2', requestedBy: by, observations: healthyRound(T0 + 100) });
    assert.equal(t.decision.ok, false);
    assert.match(t.decision.ok ? '' : t.decision.reason, /pg2 has a rewind in progress/);
    const answered = step(rejoining, result(rejoining, 'rewind', 'pg2', T0 + 200));
    const later = given(answered).when({ type: 'switchover', now: T0 + 300, to: 'pg2', requestedBy: by, observations: healthyRound(T0 + 300) });
    assert.equal(later.one('FailoverStarted').to, 'pg2');
  });

  test('given pg3 is tagged nofailover, when a switchover to it is asked, then it is refused with that reason', () => {
    const t = given(start).when({ type: 'switchover', now: T0, to: 'pg3', requestedBy: by, observations: healthy });
    assert.deepEqual(t.decision, { ok: false, reason: 'switchover refused: pg3 is tagged nofailover' });
  });

  test('given an unknown node, when a switchover to it is asked, then it is refused naming the node', () => {
    const t = given(start).when({ type: 'switchover', now: T0, to: 'pg9', requestedBy: by, observations: healthy });
    assert.ok(!t.decision.ok);
    assert.match(t.decision.reason, /unknown node "pg9"/);
  });

  test('given a failover in progress, when a switchover is asked, then it is refused and nothing changes', () => {
    const busy = step(start, { type: 'probeRound', now: T0, observations: crashedRound(T0, 3) });
    const t = given(busy).when({ type: 'switchover', now: T0, to: null, requestedBy: by, observations: healthy });
    assert.ok(!t.decision.ok);
    assert.match(t.decision.reason, /a failover from pg1 to pg2 \(term 2\) is in progress/);
  });

  test('given the primary is down, when a switchover is asked, then it is refused pointing at failover', () => {
    const t = given(start).when({ type: 'switchover', now: T0, to: 'pg2', requestedBy: by, observations: crashedRound(T0, 1) });
    assert.ok(!t.decision.ok);
    assert.match(t.decision.reason, /use pgvigil failover --to NODE/);
  });

  test('given pg1 could not be stopped cleanly, then the switchover is aborted', () => {
    const asked = step(start, { type: 'switchover', now: T0, to: 'pg2', requestedBy: by, observations: healthy });
    const t = given(asked).when(result(asked, 'demote', 'pg1', T0 + 200, false));
    assert.ok(t.types.includes('FailoverAborted'));
    assert.equal(t.state.primary, 'pg1');
  });
});

describe('rule 6: pause and resume', () => {
  const paused = step(start, { type: 'pause', now: T0, requestedBy: by });

  test('given a paused cluster, when the primary crashes, then the node is reported down but nothing is done', () => {
    const t = given(paused).when({ type: 'probeRound', now: T0 + 750, observations: crashedRound(T0 + 750, 3) });
    assert.deepEqual(t.types, ['NodeDown']);
    assert.equal(t.intents().length, 0);
  });

  test('given a paused cluster with a crashed primary, when resumed, then the next round fails over', () => {
    const down = step(paused, { type: 'probeRound', now: T0 + 750, observations: crashedRound(T0 + 750, 3) });
    const resumed = step(down, { type: 'resume', now: T0 + 1000, requestedBy: by });
    const t = given(resumed).when({ type: 'probeRound', now: T0 + 1250, observations: crashedRound(T0 + 1250, 5) });
    assert.ok(t.types.includes('FailoverStarted'));
  });

  test('pausing twice is refused; resuming an active cluster is refused', () => {
    assert.match(String((given(paused).when({ type: 'pause', now: T0, requestedBy: by }).decision as { reason: string }).reason), /already paused/);
    assert.match(String((given(start).when({ type: 'resume', now: T0, requestedBy: by }).decision as { reason: string }).reason), /not paused/);
  });
});

describe('manual failover', () => {
  test('given a healthy primary, when failover --to pg2 is asked without --force, then it is refused pointing at switchover', () => {
    const t = given(start).when({ type: 'failover', now: T0, to: 'pg2', force: false, requestedBy: by, observations: healthy });
    assert.ok(!t.decision.ok);
    assert.match(t.decision.reason, /use pgvigil switchover --to pg2/);
  });

  test('given a healthy primary, when failover --to pg2 --force, then pg1 is fenced through its agent before any promotion', () => {
    const t = given(start).when({ type: 'failover', now: T0, to: 'pg2', force: true, requestedBy: by, observations: healthy });
    assert.equal(t.one('FailoverStarted').kind, 'manual');
    assert.deepEqual(
      t.intents().map((i) => i.action),
      ['fence'],
    );
    const h = [...start, ...t.events];
    const fenced = given(h).when(result(h, 'fence', 'pg1', T0 + 100, true, { walLsn: lsn(1000) }));
    assert.equal(fenced.one('Fenced').by, 'agent');
    assert.deepEqual(fenced.intents('promote'), [], 'pg2 was judged before pg1 stopped writing: it is judged again on a later round');
    const stopped = [...h, ...fenced.events];
    const next = given(stopped).when(round(afterStop(T0 + 250, { pg2: 1000, pg3: 1000 }), T0 + 250));
    assert.equal(next.intents('promote')[0]?.node, 'pg2');
  });

  test('given failover --to pg2 --force, when the round after pg1 stopped shows pg3 received more than pg2, then the failover is called off before any promotion', () => {
    let h = step(start, { type: 'failover', now: T0, to: 'pg2', force: true, requestedBy: by, observations: healthy });
    h = step(h, result(h, 'fence', 'pg1', T0 + 100, true, { walLsn: lsn(1200) }));
    const t = given(h).when(round(afterStop(T0 + 250, { pg2: 1000, pg3: 1200 }), T0 + 250));
    assert.deepEqual(t.intents('promote'), []);
    assert.match(t.one('FailoverAborted').reason, /checked again after pg1 stopped: .*behind the quorum's highest LSN/);
  });

  test('given an async cluster and failover --to pg2 --force, when pg1\'s agent says its WAL ended beyond maximumLagOnFailover of pg2, then the failover is called off', () => {
    const async = makeSpec({ ...spec, replication: { mode: 'async', maximumLagOnFailover: 100 } });
    let h = step(initialized(async), { type: 'failover', now: T0, to: 'pg2', force: true, requestedBy: by, observations: healthy });
    h = step(h, result(h, 'fence', 'pg1', T0 + 100, true, { walLsn: lsn(5000) }));
    const t = given(h).when(round(afterStop(T0 + 250, { pg2: 1000, pg3: 1000 }), T0 + 250));
    assert.deepEqual(t.intents('promote'), []);
    assert.match(t.one('FailoverAborted').reason, /lag 4000 bytes exceeds maximumLagOnFailover 100/);
  });

  test('given a nofailover target, when failover --to it, then it is refused', () => {
    const t = given(start).when({ type: 'failover', now: T0, to: 'pg3', force: true, requestedBy: by, observations: crashedRound(T0, 3) });
    assert.ok(!t.decision.ok);
    assert.match(t.decision.reason, /pg3: tagged nofailover|tagged nofailover/);
  });
});

describe('membership and rejoin', () => {
  test('add-node registers a new node; a duplicate name is refused naming the field', () => {
    const node = { name: 'pg4', host: 'h4', port: 5432, agent: 'http://h4:8008', tags: { priority: 100, nofailover: false, nosync: false } };
    const t = given(start).when({ type: 'addNode', now: T0, node, requestedBy: by });
    assert.equal(t.one('NodeAdded').node.name, 'pg4');
    assert.equal(t.state.spec?.nodes.length, 4);
    const dup = given([...start, ...t.events]).when({ type: 'addNode', now: T0, node, requestedBy: by });
    assert.ok(!dup.decision.ok);
    assert.match(dup.decision.reason, /duplicate node name "pg4"/);
  });

  test('remove-node of the primary is refused; of a standby it is recorded', () => {
    const primary = given(start).when({ type: 'removeNode', now: T0, node: 'pg1', requestedBy: by });
    assert.ok(!primary.decision.ok);
    assert.match(primary.decision.reason, /is the primary: switch over/);
    const standby = given(start).when({ type: 'removeNode', now: T0, node: 'pg3', requestedBy: by });
    assert.equal(standby.one('NodeRemoved').node, 'pg3');
    assert.deepEqual(standby.state.spec?.nodes.map((n) => n.name), ['pg1', 'pg2']);
  });

  test('rejoin asks for a rewind onto the primary; rejoining the primary is refused', () => {
    const t = given(start).when({ type: 'rejoin', now: T0, node: 'pg3', requestedBy: by });
    assert.deepEqual(
      t.intents().map((i) => [i.action, i.node, i.primary]),
      [['rewind', 'pg3', 'pg1']],
    );
    assert.ok(!given(start).when({ type: 'rejoin', now: T0, node: 'pg1', requestedBy: by }).decision.ok);
  });

  test('initialize twice is refused', () => {
    const t = given(start).when({ type: 'initialize', now: T0, spec, primary: 'pg1' });
    assert.ok(!t.decision.ok);
    assert.match(t.decision.reason, /already initialized/);
  });

  test('commands before initialize are refused telling what to run', () => {
    const t = given([]).when({ type: 'pause', now: T0, requestedBy: by });
    assert.ok(!t.decision.ok);
    assert.match(t.decision.reason, /pgvigil init/);
  });
});

describe('a standby streaming from the wrong upstream is re-pointed', () => {
  test('given pg3 streams from pg2 while pg1 is primary, then pg3 is asked to follow pg1', () => {
    const now = T0 + 250;
    const rounds = [obs.primary('pg1', now, ['pg2']), obs.standby('pg2', now, 'pg1'), obs.standby('pg3', now, 'pg2')];
    const t = given(start).when({ type: 'probeRound', now, observations: rounds });
    assert.deepEqual(
      t.intents('follow').map((i) => [i.node, i.primary]),
      [['pg3', 'pg1']],
    );
  });
});
