/**
 * Issue 13 item 1 on real servers: a failover stuck in switching (no endpoints answer is ever
 * recorded: decide dies after each endpoints action, as a crashed Lambda would) whose new
 * primary then crashes. Its promotion is a fact, so the failover away from it starts and
 * completes; before the change nothing ever failed over again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { latestObservations } from '../../lib/store/observations.ts';
import { waitExplained } from '../support/decisionCount.ts';
import { crashNode, roleOf, startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { TOLERANT_TIMING } from '../support/tolerantTiming.ts';

/** Async mode picks a candidate against the failed primary's last LSN as the prober stored it: wait until one is stored. */
async function primaryLsnSeen(p: TestPipeline, node: string): Promise<boolean> {
  const seen = await latestObservations(p.store, p.spec.cluster, Date.now() - 10_000);
  return seen.ok && seen.observations.some((o) => o.node === node && o.role === 'primary' && o.walLsn !== null);
}

describe('a second failover from a failover stuck in switching', () => {
  let p: TestPipeline;
  let loseEndpoints = false;
  let lost = 0;

  before(async () => {
    p = await startTestPipeline(23500, {
      async: true,
      timing: TOLERANT_TIMING,
      tags: { pg3: { priority: 50 } },
      faults: (step) => {
        if (loseEndpoints && step === 'acted:endpoints') {
          lost += 1;
          throw new Error('injected: decide dies after the endpoints action, before its answer is appended');
        }
      },
    });
  });
  after(async () => {
    await p?.dispose();
  });

  test('pg1 crashes, pg2 is promoted but its endpoints answer never lands; pg2 crashes; the failover away from pg2 promotes pg3', async () => {
    const since = Date.now();
    await waitExplained(p, since, "pg1's WAL position stored by the prober", () => primaryLsnSeen(p, 'pg1'), 30_000);
    loseEndpoints = true;
    await crashNode(p, 'pg1');
    await waitExplained(p, since, 'pg2 promoted', () => p.events.some((e) => e.type === 'Promoted' && e.node === 'pg2'), 60_000);
    const first = p.events.find((e) => e.type === 'Promoted' && e.node === 'pg2')!.term;
    await waitExplained(p, since, 'an endpoints answer of the term lost twice', () => lost >= 2, 60_000);
    assert.equal((await p.state())?.failover?.step, 'switching', 'the failover waits in switching');

    // Still no endpoints answer lands until the switching failover has ended. pg2 crashes once the
    // prober has seen it write as primary: crashed before that, its writes since the promotion are
    // unknown and async mode rightly refuses (FailoverImpossible, seen once in a full run).
    await waitExplained(p, since, "pg2's WAL position as primary stored by the prober", () => primaryLsnSeen(p, 'pg2'), 30_000);
    await crashNode(p, 'pg2');
    const aborted = await waitExplained(p, since, 'the switching failover to end', () => p.events.find((e) => e.type === 'FailoverAborted' && e.term === first), 60_000);
    loseEndpoints = false;
    assert.match(aborted.reason, /pg2, promoted in term \d+, failed before its endpoints were switched/);
    const started = p.events.find((e) => e.type === 'FailoverStarted' && e.term > first);
    assert.ok(started && started.type === 'FailoverStarted' && started.from === 'pg2' && started.to === 'pg3', `the next failover is pg2 → pg3: ${JSON.stringify(started)}`);
    await waitExplained(p, since, 'the second failover to complete', () => p.events.some((e) => e.type === 'FailoverCompleted' && e.to === 'pg3'), 90_000);
    assert.equal(await roleOf(p, 'pg3'), 'primary');
    assert.equal((await p.state())?.primary, 'pg3');
  });
});
