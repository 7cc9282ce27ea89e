import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { measureSkew } from '../../../lib/domain/clockSkew.ts';
import { T0, crashedRound, given, initialized, makeSpec, result, round, step } from './kit.ts';

const spec = makeSpec({ replication: { mode: 'async' } });
/** pg1 crashed: a fence of pg1 is pending (its agent is asked even though its server is gone). */
const fencing = step(initialized(spec), round(crashedRound(T0, 3), T0));
const clock = (skewMs: number, uncertaintyMs = 2, maxSkewMs = 5_000) => ({ agentClock: { skewMs, uncertaintyMs, maxSkewMs } });
const refused = (history: typeof fencing, now: number, detail: Record<string, unknown>) => result(history, 'fence', 'pg1', now, false, detail);

describe("issue 13 item 5: an agent's clock beyond the skew it allows", () => {
  test('the skew is measured as NTP does: arrival and answer by the agent, send and receipt by the caller', () => {
    // Agent 60 s ahead; 10 ms each way; 5 ms spent in the agent.
    assert.deepEqual(measureSkew(1_000, 61_010, 61_015, 1_025), { skewMs: 60_000, uncertaintyMs: 10 });
    assert.deepEqual(measureSkew(1_000, 1_010, 1_015, 1_025), { skewMs: 0, uncertaintyMs: 10 });
    assert.deepEqual(measureSkew(61_000, 1_010, 1_015, 61_025), { skewMs: -60_000, uncertaintyMs: 10 });
  });

  test('given a pending fence, when its answer (a 401) carries a clock 60 s ahead, then ClockSkewed is recorded with the figure', () => {
    const t = given(fencing).when(refused(fencing, T0 + 100, clock(60_000)));
    const e = t.one('ClockSkewed');
    assert.deepEqual([e.node, e.skewMs, e.uncertaintyMs, e.maxSkewMs], ['pg1', 60_000, 2, 5_000]);
    assert.match(e.reason, /the clock of pg1's agent is 60\.0 s ahead of the control plane's \(±2 ms\), beyond the 5000 ms it allows/);
    assert.deepEqual(t.state.clockSkew, { pg1: { skewMs: 60_000, uncertaintyMs: 2, maxSkewMs: 5_000, since: T0 + 100 } });
  });

  test('given the skew was recorded, when the next answer still shows it, then nothing more is recorded (one alert, not one per request)', () => {
    const skewed = step(fencing, refused(fencing, T0 + 100, clock(60_000)));
    const again = step(skewed, round(crashedRound(T0 + 6_000, 30), T0 + 6_000));
    const t = given(again).when(refused(again, T0 + 6_100, clock(60_010)));
    assert.deepEqual(t.types.filter((x) => x.startsWith('Clock')), []);
  });

  test('given the skew was recorded, when an answer shows the clocks within the bound, then it is cleared', () => {
    const skewed = step(fencing, refused(fencing, T0 + 100, clock(-60_000)));
    const again = step(skewed, round(crashedRound(T0 + 6_000, 30), T0 + 6_000));
    const t = given(again).when(refused(again, T0 + 6_100, clock(40)));
    assert.equal(t.one('ClockSkewCleared').node, 'pg1');
    assert.deepEqual(t.state.clockSkew, {});
  });

  test('given a figure the round trip leaves on either side of the bound, then nothing is concluded', () => {
    assert.deepEqual(given(fencing).when(refused(fencing, T0 + 100, clock(5_100, 200))).types, ['ActionFailed']);
  });

  test('given no clock in the answer (an older agent, an unreachable one) or a malformed one, then nothing is recorded', () => {
    assert.deepEqual(given(fencing).when(refused(fencing, T0 + 100, {})).types, ['ActionFailed']);
    assert.deepEqual(given(fencing).when(refused(fencing, T0 + 100, { agentClock: { skewMs: 'far', uncertaintyMs: 1, maxSkewMs: 5_000 } })).types, ['ActionFailed']);
  });

});
