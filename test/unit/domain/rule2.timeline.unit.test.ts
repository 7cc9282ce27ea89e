import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, given, initialized, lsn, makeSpec, round } from './kit.ts';

/*
 * PROPERTY_SEED=1042649006 (ANY 2 of 4): LSNs compare only on one timeline. pg1, primary on
 * timeline 2, crashes; pg3 reports timeline 1 at a higher LSN than pg2 on timeline 2. pg3 may
 * never have received timeline 2 (what it holds past the switch diverged), or may report a stale
 * timeline from its control file: it is not the candidate, and its LSN still counts as highest.
 */
const spec = makeSpec();
const start = initialized(spec);

function crash(pg2: { tl: number; lsn: number }, pg3: { tl: number; lsn: number }) {
  const [pg1, s2, s3] = crashedRound(T0, 3);
  return round(
    [
      { ...pg1!, lastKnownTimeline: 2 },
      { ...s2!, timeline: pg2.tl, receiveLsn: lsn(pg2.lsn), replayLsn: lsn(pg2.lsn) },
      { ...s3!, timeline: pg3.tl, receiveLsn: lsn(pg3.lsn), replayLsn: lsn(pg3.lsn) },
    ],
    T0,
  );
}

describe("rule 2 (synchronous): the candidate is on the failed primary's timeline", () => {
  test('given pg3 ahead but on timeline 1, behind pg1\'s timeline 2, when pg1 crashes, then neither is promoted, and the reason names the timeline', () => {
    const t = given(start).when(crash({ tl: 2, lsn: 1000 }, { tl: 1, lsn: 1200 }));
    assert.ok(!t.types.includes('FailoverStarted'), t.types.join(', '));
    assert.match(t.one('FailoverImpossible').reason, /pg3: reports timeline 1, behind pg1's timeline 2/);
  });

  test('given both on timeline 2, then the one with the highest LSN is the candidate', () => {
    assert.equal(given(start).when(crash({ tl: 2, lsn: 1000 }, { tl: 2, lsn: 1200 })).one('FailoverStarted').to, 'pg3');
  });

  test('given pg3 on timeline 1 but behind pg2, then pg2 is the candidate', () => {
    assert.equal(given(start).when(crash({ tl: 2, lsn: 1200 }, { tl: 1, lsn: 1000 })).one('FailoverStarted').to, 'pg2');
  });
});
