import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { unsettledBy } from '../../lib/probe/settled.ts';
import { initialState, type ClusterState } from '../../lib/domain/state.ts';
import { resolveProbeCadence } from '../../cdk/probeCadence.ts';
import { makeSpec, obs, T0 } from './domain/kit.ts';

// When may an on-wake probe run stop? Given the log's state and one round, when the round is
// judged, then it is settled (null) or names what it still watches.
const spec = makeSpec();
const healthy = (over: Partial<ClusterState> = {}): ClusterState => ({ ...initialState('main'), spec, term: 1, primary: 'pg1', writer: 'pg1', readers: ['pg2', 'pg3'], ...over });
const round = (at = T0) => [obs.primary('pg1', at, ['pg2', 'pg3']), obs.standby('pg2', at, 'pg1'), obs.standby('pg3', at, 'pg1')];

describe('an on-wake probe run is settled', () => {
  test('given a healthy cluster the log agrees with, when a round sees it so, then the run may stop', () => {
    assert.equal(unsettledBy(spec, healthy(), round()), null);
  });

  test('given a node the log declared down, when its every time limit has passed, then a lasting fault does not keep the probe running', () => {
    const at = T0 + 60_000;
    const down = obs.failing('pg3', at, 40, { failingSince: T0, lease: { version: 1, changedSeenAt: T0, term: 1, members: ['pg1', 'pg2'], ttlMs: 6_000 } });
    // The prober keeps when it first saw each reachable node's receiver state (none, on a primary).
    const r = [obs.primary('pg1', at, ['pg2'], { receiverSince: T0 - 30_000 }), obs.standby('pg2', at, 'pg1', { receiverSince: T0 - 30_000 }), down];
    assert.equal(unsettledBy(spec, healthy({ down: ['pg3'] }), r), null);
  });
});

describe('an on-wake probe run goes on', () => {
  test('given the primary does not answer, when the log has not declared it down, then the run watches it', () => {
    const r = [obs.failing('pg1', T0, 1), obs.standby('pg2', T0, 'pg1'), obs.standby('pg3', T0, 'pg1')];
    assert.match(unsettledBy(spec, healthy(), r) ?? '', /pg1 does not answer/);
  });

  test('given a node declared down that failed only now, when a time limit on it is still to pass, then the run waits for it', () => {
    const down = obs.failing('pg1', T0, 3);
    assert.match(unsettledBy(spec, healthy({ down: ['pg1'] }), [down, obs.standby('pg2', T0, 'pg1'), obs.standby('pg3', T0, 'pg1')]) ?? '', /time limit/);
  });

  test('given a failover in progress, then the run watches it to the end', () => {
    const failover = { kind: 'failover' as const, term: 2, from: 'pg1', to: 'pg2', startedAt: T0, step: 'promoting' as const, fencedBy: null };
    assert.match(unsettledBy(spec, healthy({ failover: failover as ClusterState['failover'] }), round()) ?? '', /failover/);
  });

  test('given an intent waiting for its answer, then the run watches its effect', () => {
    const pending = [{ intent: { kind: 'fence', node: 'pg1', term: 1 } as never, requestedAt: T0 }];
    assert.match(unsettledBy(spec, healthy({ pending }), round()) ?? '', /intent/);
  });

  test('given a standby that stopped streaming, then the run watches it', () => {
    const r = [obs.primary('pg1', T0, ['pg2']), obs.standby('pg2', T0, 'pg1'), obs.standby('pg3', T0, null)];
    assert.match(unsettledBy(spec, healthy(), r) ?? '', /pg3 is not a standby streaming from pg1/);
  });

  test('given a node back that the log still has down, then the run waits for decide to record it up', () => {
    assert.match(unsettledBy(spec, healthy({ down: ['pg3'] }), round()) ?? '', /pg3 answers again/);
  });
});

describe('the deployed probe cadence', () => {
  const asyncSpec = makeSpec({ replication: { mode: 'async' } });
  test('synchronous clusters default to on-wake; an async one to always', () => {
    assert.equal(resolveProbeCadence([spec], undefined), 'on-wake');
    assert.equal(resolveProbeCadence([spec, asyncSpec], undefined), 'always');
    assert.equal(resolveProbeCadence([spec], 'always'), 'always');
  });
  test('on-wake with async replication is refused, saying what to choose', () => {
    assert.throws(() => resolveProbeCadence([asyncSpec], 'on-wake'), /probeCadence 'always'.*or synchronous replication/);
  });
});
