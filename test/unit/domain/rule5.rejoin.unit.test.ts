import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, detachedAfterCrash, given, initialized, makeSpec, obs, result, round, step } from './kit.ts';

const spec = makeSpec();
const start = initialized(spec);

describe('rule 5: the old primary rejoins', () => {
  const started = step(start, round(crashedRound(T0, 3), T0));
  // pg1's agent died with it: the best-effort fence got no answer.
  const promoting = detachedAfterCrash(step(started, result(started, 'fence', 'pg1', T0 + 50, false)), T0 + 100);
  const promoted = step(promoting, result(promoting, 'promote', 'pg2', T0 + 300));
  const completed = step(promoted, result(promoted, 'endpoints', 'pg2', T0 + 310));
  const afterCrash = (now: number, pg1: ReturnType<typeof obs.failing>) => [pg1, obs.primary('pg2', now, ['pg3']), obs.standby('pg3', now, 'pg2')];

  test('given pg1 comes back as a primary of the old term, then it is fenced at the new term', () => {
    const now = T0 + 2000;
    const t = given(completed).when(round(afterCrash(now, obs.primary('pg1', now, [])), now));
    assert.deepEqual(
      t.intents().map((i) => [i.action, i.node, i.term]),
      [['fence', 'pg1', 2]],
    );
  });

  test('given pg1 is down but its agent renews its lease again, then it is rewound onto pg2', () => {
    const now = T0 + 10_000;
    const pg1 = obs.failing('pg1', now, 40, { lease: { version: 9, changedSeenAt: now - 200, term: 1 } });
    const t = given(completed).when(round(afterCrash(now, pg1), now));
    assert.deepEqual(
      t.intents().map((i) => [i.action, i.node, i.primary]),
      [['rewind', 'pg1', 'pg2']],
    );
  });

  test('given pg1 is down with its agent back but the new primary down too, then no rewind is asked: there is nothing to copy from', () => {
    const now = T0 + 10_000;
    const pg1 = obs.failing('pg1', now, 40, { lease: { version: 9, changedSeenAt: now - 200, term: 1 } });
    const t = given(completed).when(round([pg1, obs.failing('pg2', now, 2), obs.standby('pg3', now, null)], now));
    assert.deepEqual(t.intents('rewind'), []);
  });

  test('given pg1 is down and its agent silent, then nothing is asked of it', () => {
    const now = T0 + 10_000;
    const pg1 = obs.failing('pg1', now, 40, { lease: { version: 1, changedSeenAt: T0 - 1000, term: 1 } });
    const t = given(completed).when(round(afterCrash(now, pg1), now));
    assert.deepEqual(t.intents(), []);
  });

  test('given the rewind succeeded, then pg1 is no longer deposed', () => {
    const now = T0 + 10_000;
    const pg1 = obs.failing('pg1', now, 40, { lease: { version: 9, changedSeenAt: now - 200, term: 1 } });
    const asked = step(completed, round(afterCrash(now, pg1), now));
    const t = given(asked).when(result(asked, 'rewind', 'pg1', now + 900));
    assert.deepEqual(t.state.deposed, {});
  });
});
