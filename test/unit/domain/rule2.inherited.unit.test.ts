import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { specSyncNames } from '../../../lib/domain/syncNames.ts';
import { T0, given, initialized, lsn, makeSpec, obs, result, round, step } from './kit.ts';

/*
 * Issue 12 (found by PROPERTY_SEED=475027393): a second failover before the standbys caught up
 * with the first. The commits a new primary inherited were acknowledged under its predecessor's
 * quorum, which may have counted only the new primary; its own quorum says nothing about them.
 * pg1 never synchronous (nosync), ANY 1 of pg2, pg3: pg1 crashes, pg2 (ahead) is promoted at
 * 0/834; pg3, at 0/5DC, is re-pointed at pg2 but lags; pg2 crashes. For pg2 the quorum arithmetic
 * needs only pg3, yet pg3 lacks commits that pg1 acknowledged with pg2's flush alone.
 */
const spec = makeSpec({
  nodes: ['pg1', 'pg2', 'pg3'].map((name, i) => ({ name, host: '127.0.0.1', port: 5432 + i, agent: `http://127.0.0.1:${8008 + i}`, tags: { nosync: name === 'pg1' } })),
});
const members = { pg1: ['pg2', 'pg3'], pg2: ['pg1', 'pg3'], pg3: ['pg1', 'pg2'] } as const;
const lease = (node: keyof typeof members, at: number) => ({ version: 1, changedSeenAt: at, term: 1, members: [...members[node]], ttlMs: 3_000 });

/** pg1 crashed; pg2 promoted (its agent answers walLsn `promotedAt`) and seen as primary with the spec's quorum. */
function promotedPg2(promotedAt: number): { history: ReturnType<typeof initialized>; at: number } {
  let h = initialized(spec);
  const crash = [
    obs.failing('pg1', T0, 3, { lease: lease('pg1', T0 - 750) }),
    obs.standby('pg2', T0, null, { receiveLsn: lsn(2000), replayLsn: lsn(2000), receiverSince: T0 - 750 }),
    obs.standby('pg3', T0, null, { receiveLsn: lsn(1500), replayLsn: lsn(1500), receiverSince: T0 - 750 }),
  ];
  h = step(h, round(crash, T0));
  assert.ok(h.some((e) => e.type === 'FailoverStarted' && e.to === 'pg2'), 'pg2, ahead, is the candidate');
  h = step(h, result(h, 'follow', 'pg3', T0 + 100));
  h = step(h, result(h, 'promote', 'pg2', T0 + 200, true, { promoted: true, timeline: 2, walLsn: lsn(promotedAt) }));
  h = step(h, result(h, 'endpoints', 'pg2', T0 + 300));
  const at = T0 + 500;
  const seen = [
    obs.failing('pg1', at, 5, { lease: lease('pg1', T0 - 750) }),
    obs.primary('pg2', at, ['pg3'], { walLsn: lsn(promotedAt), lastKnownWalLsn: lsn(promotedAt), synchronousStandbyNames: specSyncNames(spec), timeline: 2 }),
    obs.standby('pg3', at, 'pg2', { receiveLsn: lsn(1500), replayLsn: lsn(1500), timeline: 2 }),
  ];
  h = step(h, round(seen, at));
  return { history: h, at };
}

/** pg2 crashes; pg3 last received `pg3Lsn`. */
function pg2Crashes(at: number, pg3Lsn: number) {
  return round(
    [
      obs.failing('pg1', at, 9, { lease: lease('pg1', T0 - 750) }),
      obs.failing('pg2', at, 3, { lease: lease('pg2', at - 750), lastKnownWalLsn: lsn(2200) }),
      obs.standby('pg3', at, null, { receiveLsn: lsn(pg3Lsn), replayLsn: lsn(pg3Lsn), receiverSince: at - 750, timeline: 2 }),
    ],
    at,
  );
}

describe('rule 2: a new primary alone may hold the commits it inherited', () => {
  test('given pg2 promoted at 0/834 and pg3 behind that, when pg2 crashes, then no failover: pg3 lacks commits pg1 acknowledged', () => {
    const { history, at } = promotedPg2(2100);
    const t = given(history).when(pg2Crashes(at + 2_000, 1500));
    assert.ok(!t.types.includes('FailoverStarted'), t.types.join(', '));
    assert.match(t.one('FailoverImpossible').reason, /pg2 was promoted at 0\/834: the commits it inherited .* \(the highest reachable quorum member has 0\/5DC\)/);
  });

  test('given pg3 received past pg2\'s promotion point, when pg2 crashes, then pg3 is the candidate', () => {
    const { history, at } = promotedPg2(2100);
    const t = given(history).when(pg2Crashes(at + 2_000, 2150));
    assert.equal(t.one('FailoverStarted').to, 'pg3');
  });

  test('given the promote answer was lost, then the promotion point is read from pg2 when it first answers as primary', () => {
    let h = initialized(spec);
    h = step(
      h,
      round(
        [
          obs.failing('pg1', T0, 3, { lease: lease('pg1', T0 - 750) }),
          obs.standby('pg2', T0, null, { receiveLsn: lsn(2000), replayLsn: lsn(2000), receiverSince: T0 - 750 }),
          obs.standby('pg3', T0, null, { receiveLsn: lsn(1500), replayLsn: lsn(1500), receiverSince: T0 - 750 }),
        ],
        T0,
      ),
    );
    h = step(h, result(h, 'follow', 'pg3', T0 + 100));
    // The promote took effect but its answer was lost (the call timed out); the next round sees pg2 as primary.
    h = step(h, result(h, 'promote', 'pg2', T0 + 200, false));
    const t = given(h).when(
      round(
        [
          obs.failing('pg1', T0 + 1_000, 7, { lease: lease('pg1', T0 - 750) }),
          obs.primary('pg2', T0 + 1_000, ['pg3'], { walLsn: lsn(2100), lastKnownWalLsn: lsn(2100), timeline: 2 }),
          obs.standby('pg3', T0 + 1_000, 'pg2', { receiveLsn: lsn(1500), replayLsn: lsn(1500), timeline: 2 }),
        ],
        T0 + 1_000,
      ),
    );
    assert.equal(t.one('Promoted').lsn, lsn(2100));
    assert.deepEqual(t.state.inherited, { node: 'pg2', lsn: lsn(2100) });
  });
});
