import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, given, healthyRound, initialized, makeSpec, obs, round } from './kit.ts';

const spec = makeSpec();
const start = initialized(spec);

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
