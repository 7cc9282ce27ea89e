/**
 * Issue 13, Explain: what `pgvigil status` says of a failover in progress (its step, since when,
 * what it waits for, what ends it) and, with none, why each standby could not be promoted.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clusterStatus, renderClusterStatus } from '../../lib/cli/clusterStatus.ts';
import { T0, crashedRound, detachedAfterCrash, healthyRound, initialized, makeSpec, obs, result, round, stateOf, step } from './domain/kit.ts';

const spec = makeSpec();
const start = initialized(spec);

describe('pgvigil status explains a failover in progress', () => {
  test('given a promotion asked of pg2 and its answer lost, when pg2 is lost, then status names the step, since when, and the missing fact', () => {
    const promoting = detachedAfterCrash(step(start, round(crashedRound(T0, 3), T0)), T0 + 200);
    const refused = step(promoting, result(promoting, 'promote', 'pg2', T0 + 300, false));
    const now = T0 + 2_000;
    const seen = [obs.failing('pg1', now, 20, {}, 'timeout'), obs.failing('pg2', now, 6, {}, 'timeout'), obs.standby('pg3', now, null, { receiverSince: T0 })];
    const s = clusterStatus(stateOf(refused), seen, now);
    const x = s.failoverExplained!;
    assert.deepEqual([x.kind, x.from, x.to, x.term, x.step, x.since], ['failover', 'pg1', 'pg2', 2, 'promoting', T0]);
    assert.match(x.waitsFor, /pg2, asked to promote, is lost: it may be primary, so another is chosen only once it provably is not/);
    assert.match(x.endsWhen, /pgvigil abort/);
    const text = renderClusterStatus(s);
    assert.match(text, /In progress: failover pg1 → pg2, term 2, step promoting since \d\d:\d\d:\d\d/);
    assert.match(text, /waits for: pg2, asked to promote, is lost/);
  });

  test('given the primary down and no fence proof yet, then status says which rule 3 condition is missing', () => {
    const spec3 = makeSpec({ replication: { mode: 'async' } });
    const h = step(initialized(spec3), round(crashedRound(T0, 3), T0));
    const s = clusterStatus(stateOf(h), crashedRound(T0 + 250, 4), T0 + 250);
    assert.equal(s.failoverExplained?.step, 'fencing');
    assert.match(s.failoverExplained!.waitsFor, /a proof that pg1 can't commit: its agent's answer to the fence, asked 0 s ago, or a condition of rule 3 \(pg1's lease was seen unchanged/);
  });
});

describe('pgvigil status shows a switchover\'s deadline', () => {
  test('given a switchover with --timeout 45 s whose demote is asked, then status says when it ends and what happens then', () => {
    const asked = step(start, { type: 'switchover', now: T0, to: 'pg2', timeoutMs: 45_000, requestedBy: 'test', observations: healthyRound(T0) });
    const now = T0 + 5_000;
    const s = clusterStatus(stateOf(asked), healthyRound(now), now);
    const x = s.failoverExplained!;
    assert.equal(x.kind, 'switchover');
    assert.equal(x.deadlineAt, T0 + 45_000);
    assert.match(x.endsWhen, /at its deadline \(40 s from now\) the switchover fails and pg1 is started again as primary of a new term/);
    assert.match(renderClusterStatus(s), /ends with: .*at its deadline \(40 s from now\)/);
  });

  test('given a switchover without a deadline in its log (an older log), then no deadline is shown', () => {
    const asked = step(start, { type: 'switchover', now: T0, to: 'pg2', requestedBy: 'test', observations: healthyRound(T0) });
    const f = stateOf(asked).failover!;
    const older = { ...stateOf(asked), failover: { ...f, deadlineAt: undefined } };
    const x = clusterStatus(older, healthyRound(T0 + 5_000), T0 + 5_000).failoverExplained!;
    assert.equal(x.deadlineAt, undefined);
    assert.doesNotMatch(x.endsWhen, /deadline/);
  });
});

describe('pgvigil status explains why no failover is possible', () => {
  test('given a healthy primary and both standbys tagged nofailover, then each standby is listed with its reason', () => {
    const nf = makeSpec({
      nodes: ['pg1', 'pg2', 'pg3'].map((name, i) => ({ name, host: '127.0.0.1', port: 5432 + i, agent: `http://127.0.0.1:${8008 + i}`, tags: { nofailover: name !== 'pg1' } })),
    });
    const s = clusterStatus(stateOf(initialized(nf)), healthyRound(T0), T0);
    assert.equal(s.failoverExplained, null);
    assert.deepEqual(s.candidates.map((c) => [c.node, c.why]), [['pg2', 'tagged nofailover'], ['pg3', 'tagged nofailover']]);
    assert.match(renderClusterStatus(s), /No failover possible now, were the primary to fail:\n  pg2: tagged nofailover/);
  });

  test('given a healthy cluster, then a standby that could take over has no reason against it and nothing is printed', () => {
    const s = clusterStatus(stateOf(start), healthyRound(T0), T0);
    assert.ok(s.candidates.some((c) => c.why === null), JSON.stringify(s.candidates));
    assert.doesNotMatch(renderClusterStatus(s), /No failover possible/);
  });
});

describe('pgvigil status between on-wake probe runs', () => {
  test('given a quiet cluster last probed 40 s ago, then each node shows its last state with its age, not unseen', () => {
    const now = T0 + 40_000;
    const s = clusterStatus(stateOf(start), healthyRound(T0), now);
    const pg2 = s.nodes.find((n) => n.name === 'pg2')!;
    assert.equal(pg2.role, 'standby');
    assert.equal(pg2.state, 'streaming from pg1 (last seen 40 s ago)');
    assert.equal(s.nodes.find((n) => n.name === 'pg1')!.state, 'running (last seen 40 s ago)');
    assert.match(s.controlPlane, /^quiet: last probed 40 s ago/);
    // Judged as of the last run: both standbys could take over, as they could 40 s ago.
    assert.deepEqual(s.candidates, [{ node: 'pg2', why: null }, { node: 'pg3', why: null }]);
  });

  test('given observations older than a few minutes, then the nodes are unseen', () => {
    const s = clusterStatus(stateOf(start), healthyRound(T0), T0 + 10 * 60_000);
    assert.deepEqual(s.nodes.map((n) => [n.role, n.state]), [['unknown', 'unseen'], ['unknown', 'unseen'], ['unknown', 'unseen']]);
    assert.equal(s.controlPlane, 'no fresh observations');
  });
});
