import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, given, initialized, obs, others, round, step } from './kit.ts';

/** The agent's own stop (rule 3's self-fence), as pg1's lease reports it once its agent renews again. */
const stop = { term: 1, why: 'lease not renewed for 3120 ms (TTL 3000 ms) and pg2, pg3 of the spec\'s standbys (pg2, pg3) do not stream from this primary', at: '2026-12-03T06:01:02.345Z' };
const leaseOf = (at: number, selfFenced: typeof stop | null) => ({ version: 9, changedSeenAt: at, term: 1, members: others('pg1'), ttlMs: 3_000, selfFenced });
const stoppedRound = (at: number, selfFenced: typeof stop | null, failures = 4) => [obs.failing('pg1', at, failures, { lease: leaseOf(at, selfFenced) }), obs.standby('pg2', at, null), obs.standby('pg3', at, null)];

describe("an agent's self-fence in the decision log", () => {
  const history = initialized();

  test('given pg1 stopped itself, when its lease says so, then NodeSelfFenced records it with the agent\'s reason, term and time', () => {
    const t = given(history).when(round(stoppedRound(T0, stop), T0));
    const e = t.one('NodeSelfFenced');
    assert.deepEqual([e.node, e.fenceTerm, e.agentAt], ['pg1', 1, stop.at]);
    assert.match(e.reason, /^pg1's agent stopped its PostgreSQL itself at 2026-12-03T06:01:02\.345Z \(its clock\), in term 1: lease not renewed for 3120 ms/);
    assert.deepEqual(t.state.selfFenceReported, { pg1: stop.at });
  });

  test('given it was recorded, when later rounds still show the same marker, then it is not recorded again', () => {
    const recorded = step(history, round(stoppedRound(T0, stop), T0));
    const t = given(recorded).when(round(stoppedRound(T0 + 5_000, stop, 24), T0 + 5_000));
    assert.ok(!t.types.includes('NodeSelfFenced'));
  });

  test('given it was recorded, when the agent stops itself again later (a new marker), then that stop is recorded too', () => {
    const recorded = step(history, round(stoppedRound(T0, stop), T0));
    const later = { ...stop, at: '2026-12-03T07:00:00.000Z' };
    const t = given(recorded).when(round(stoppedRound(T0 + 60_000, later, 8), T0 + 60_000));
    assert.equal(t.one('NodeSelfFenced').agentAt, later.at);
  });

  test('given a lease without a report (none, or an older agent), then nothing is recorded', () => {
    assert.ok(!given(history).when(round(stoppedRound(T0, null), T0)).types.includes('NodeSelfFenced'));
  });
});
