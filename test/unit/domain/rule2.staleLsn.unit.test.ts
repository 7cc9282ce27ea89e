import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, given, initialized, lsn, makeSpec, round } from './kit.ts';

/*
 * Issue 12, path 5: the async lag guard is only as good as the LSN it measures from. A prober
 * that restarted (a new Lambda container) resumes from the last stored observation, which may be
 * a heartbeat old: every write after it is unknown, and a standby "within maximumLagOnFailover"
 * of it may be far behind what the primary acknowledged.
 */
const spec = makeSpec({ replication: { mode: 'async', maximumLagOnFailover: 1_048_576 } });
const start = initialized(spec);

function crashSeen(lastSeenBeforeFailure: number) {
  const [pg1, pg2, pg3] = crashedRound(T0, 3);
  return round([{ ...pg1!, lastKnownWalLsn: lsn(1000), lastKnownWalAt: pg1!.failingSince! - lastSeenBeforeFailure }, pg2!, pg3!], T0);
}

describe('rule 2 (async): the last LSN of the failed primary must be fresh', () => {
  test('given pg1 last seen at the probe before its failure, when it crashes, then a standby within the lag limit is promoted', () => {
    assert.equal(given(start).when(crashSeen(250)).one('FailoverStarted').from, 'pg1');
  });

  test('given pg1 last seen 9 s before its failure (a restarted prober), when it crashes, then no automatic failover, and the reason says why', () => {
    const t = given(start).when(crashSeen(9_000));
    assert.ok(!t.types.includes('FailoverStarted'), t.types.join(', '));
    assert.match(t.one('FailoverImpossible').reason, /was seen 9000 ms before pg1 failed .* the writes after it are unknown/);
  });

  test('given the time it was seen is unknown (an observation written before this field), then no automatic failover', () => {
    const [pg1, pg2, pg3] = crashedRound(T0, 3);
    const t = given(start).when(round([{ ...pg1!, lastKnownWalAt: null }, pg2!, pg3!], T0));
    assert.match(t.one('FailoverImpossible').reason, /seen at an unknown time/);
  });

  test('given the same stale LSN, when the operator names the standby, then the failover starts and its reason says writes may be lost', () => {
    const stale = crashSeen(9_000) as Extract<ReturnType<typeof crashSeen>, { type: 'probeRound' }>;
    const t = given(start).when({ type: 'failover', now: T0, to: 'pg2', force: false, requestedBy: 'ops', observations: stale.observations });
    assert.match(t.one('FailoverStarted').reason, /writes after it may be lost/);
  });
});
