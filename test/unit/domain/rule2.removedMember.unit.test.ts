import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, given, initialized, lsn, makeSpec, obs, round, step } from './kit.ts';

/*
 * Issue 12 path 2(b), found by the property world with remove-node and per-node settings
 * (PROPERTY_SEED=1081479011): sync ANY 1 of pg2, pg3. pg3 is down; pg1 acknowledges commits
 * with pg2 alone. pg2 is removed; pg1's agent rewrites its setting to ANY 1 (pg3). Commits
 * acknowledged before the change are on pg1 and pg2 only: once pg1 fails, pg3 (back, behind
 * the change) must not be promoted although the setting now matches the spec.
 */
const spec = makeSpec();
const changedAt = 2000;

function afterRemoval() {
  let h = step(initialized(spec), { type: 'removeNode', now: T0 + 250, node: 'pg2', requestedBy: 'ops' });
  // pg1 still names pg2 (its agent has not read the log yet), then commits with the new setting.
  h = step(h, round([obs.primary('pg1', T0 + 500, ['pg2'], { synchronousStandbyNames: 'ANY 1 (pg1, pg2, pg3)', walLsn: lsn(1500), lastKnownWalLsn: lsn(1500) }), obs.failing('pg3', T0 + 500, 2)], T0 + 500));
  h = step(h, round([obs.primary('pg1', T0 + 750, ['pg2'], { synchronousStandbyNames: 'ANY 1 (pg1, pg3)', walLsn: lsn(changedAt), lastKnownWalLsn: lsn(changedAt) }), obs.failing('pg3', T0 + 750, 3)], T0 + 750));
  return h;
}

function crash(pg3Lsn: number) {
  const at = T0 + 2_000;
  return round(
    [
      obs.failing('pg1', at, 3, { lastKnownWalLsn: lsn(changedAt) }),
      obs.standby('pg3', at, null, { receiveLsn: lsn(pg3Lsn), replayLsn: lsn(pg3Lsn), receiverSince: at - 750 }),
    ],
    at,
  );
}

describe('rule 2 (synchronous): commits acknowledged under the setting before a membership change', () => {
  test('given pg1 rewrote its setting after pg2 was removed, when pg1 fails with pg3 behind the change, then pg3 is not promoted, and the reason says why', () => {
    const t = given(afterRemoval()).when(crash(1800));
    assert.ok(!t.types.includes('FailoverStarted'), t.types.join(', '));
    assert.match(t.one('FailoverImpossible').reason, /synchronous_standby_names changed at 0\/7D0/);
  });

  test('given pg3 has received past the change, then it is the candidate', () => {
    assert.equal(given(afterRemoval()).when(crash(2100)).one('FailoverStarted').to, 'pg3');
  });
});
