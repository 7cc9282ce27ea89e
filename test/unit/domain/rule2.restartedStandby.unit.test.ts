import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, given, initialized, lsn, makeSpec, round } from './kit.ts';

/*
 * Issue 12, path 5 (found by the property world once standbys replay behind what they receive):
 * a standby whose PostgreSQL restarted while its upstream was gone reports no receive LSN
 * (NULL until its receiver first streams), only its replay LSN, a lower bound of the WAL it
 * flushed. Sync ANY 1 of pg2, pg3: pg2 had a commit pg1 acknowledged, replay behind it, and
 * restarted; pg3 lacks the commit but reports more than pg2's replay. pg3 must not be chosen.
 */
const spec = makeSpec();
const start = initialized(spec);

function crash(pg2: { receive: number | null; replay: number }, pg3: number) {
  const [pg1, s2, s3] = crashedRound(T0, 3);
  return round(
    [
      pg1!,
      { ...s2!, receiveLsn: pg2.receive === null ? null : lsn(pg2.receive), replayLsn: lsn(pg2.replay) },
      { ...s3!, receiveLsn: lsn(pg3), replayLsn: lsn(pg3) },
    ],
    T0,
  );
}

describe('rule 2 (synchronous): a restarted standby reporting replay only', () => {
  test('given pg2 restarted (no receive LSN) with replay below pg3, when pg1 crashes, then pg3 is not promoted, and the reason names pg2', () => {
    const t = given(start).when(crash({ receive: null, replay: 900 }, 1000));
    assert.ok(!t.types.includes('FailoverStarted'), t.types.join(', '));
    assert.match(t.one('FailoverImpossible').reason, /pg2 reports no receive LSN .* replay 0\/384: it may hold WAL past 0\/3E8/);
  });

  test('given pg2 restarted with replay at or past everyone else, then pg2 is the candidate: it holds at least that', () => {
    assert.equal(given(start).when(crash({ receive: null, replay: 1200 }, 1000)).one('FailoverStarted').to, 'pg2');
  });

  test('given pg2 still reporting the receive LSN of before its receiver stopped, then the highest receive LSN is the candidate as before', () => {
    assert.equal(given(start).when(crash({ receive: 1200, replay: 900 }, 1000)).one('FailoverStarted').to, 'pg2');
  });
});
