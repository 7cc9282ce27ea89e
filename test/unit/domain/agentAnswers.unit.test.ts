/** An agent's answer is outside data: an odd one must never put an unreadable item in the log. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecisionEvent } from '../../../lib/domain/events.ts';
import { fold } from '../../../lib/domain/evolve.ts';
import { ClusterState, initialState } from '../../../lib/domain/state.ts';
import { T0, given, healthyRound, initialized, lsn, result, step } from './kit.ts';

const start = initialized();
const asked = step(start, { type: 'switchover', now: T0, to: 'pg2', requestedBy: 'alice', observations: healthyRound(T0) });

describe('an agent answer with a malformed checkpointLsn', () => {
  for (const bad of ['not-an-lsn', '0/3000148; drop table', 42, { hi: 0 }]) {
    test(`given a switchover waiting on pg1's demote, when its answer reports checkpointLsn ${JSON.stringify(bad)}, then every event parses and the log still loads`, () => {
      const t = given(asked).when(result(asked, 'demote', 'pg1', T0 + 200, true, { checkpointLsn: bad }));
      assert.ok(t.decision.ok);
      for (const e of t.events) assert.ok(DecisionEvent.safeParse(e).success, `${e.type} does not parse`);
      // The checkpoint is ignored, with a reason, and the promotion waits for none.
      assert.match(t.one('Fenced').reason, /checkpointLsn .* is not an LSN and is ignored/);
      assert.deepEqual(
        t.intents('promote').map((i) => [i.node, i.minLsn]),
        [['pg2', null]],
      );
      // Reloaded as a store would: every item parsed, then folded.
      const stored = DecisionEvent.array().parse(JSON.parse(JSON.stringify([...asked, ...t.events])));
      assert.ok(ClusterState.safeParse(fold(initialState('main'), stored)).success);
    });
  }

  test('given the same switchover, when the answer reports a well-formed checkpointLsn, then the promotion waits for it', () => {
    const t = given(asked).when(result(asked, 'demote', 'pg1', T0 + 200, true, { checkpointLsn: lsn(2000) }));
    assert.match(t.one('Fenced').reason, new RegExp(`at shutdown checkpoint ${lsn(2000)}`));
    assert.deepEqual(
      t.intents('promote').map((i) => i.minLsn),
      [lsn(2000)],
    );
  });
});
