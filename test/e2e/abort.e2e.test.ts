/**
 * Issue 13 item 1 on real servers: a failover whose candidate is gone after its promote was
 * asked waits for it (it may be primary, holding writes); `pgvigil status` says so, and
 * `pgvigil abort` ends it, with the reason in history, so the next failover completes elsewhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { latestObservations } from '../../lib/store/observations.ts';
import { runCli } from '../support/cliRun.ts';
import { waitExplained } from '../support/decisionCount.ts';
import { crashNode, roleOf, signalAll, startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { TOLERANT_TIMING } from '../support/tolerantTiming.ts';

/** Async mode picks a candidate against the old primary's last LSN as the prober stored it: wait until one is stored. */
async function primaryLsnSeen(p: TestPipeline): Promise<boolean> {
  const seen = await latestObservations(p.store, p.spec.cluster, Date.now() - 10_000);
  return seen.ok && seen.observations.some((o) => o.node === 'pg1' && o.role === 'primary' && o.walLsn !== null);
}

describe('pgvigil abort on a live local cluster', () => {
  let p: TestPipeline;
  let wd: string[];

  before(async () => {
    // Async, so a failover after pg2 is lost needs no quorum of members in sight; pg3 ranks below pg2.
    p = await startTestPipeline(23000, { async: true, timing: TOLERANT_TIMING, tags: { pg3: { priority: 50 } } });
    wd = ['--workdir', p.workDir];
  });
  after(async () => {
    await p?.dispose();
  });

  test('a failover whose candidate is lost after its promote was asked is explained by status and ended by abort; the next failover promotes pg3', async () => {
    const since = Date.now();
    const { leaseTtlMs } = p.spec.timing;
    // pg2's agent hangs (SIGSTOP): the promote asked of it gets no answer.
    const agent2 = p.agents.get('pg2')!.pid();
    assert.ok(agent2, 'pg2 has an agent process');
    await waitExplained(p, since, "pg1's WAL position stored by the prober", () => primaryLsnSeen(p), 30_000);
    signalAll([agent2], 'SIGSTOP');
    try {
      await crashNode(p, 'pg1');
      await waitExplained(p, since, 'the promote of pg2 to be asked', () => p.events.some((e) => e.type === 'ActionRequested' && e.intent.action === 'promote' && e.intent.node === 'pg2'), 60_000);
      // Its agent silent for over a TTL before its host goes: no lease proof can say pg2 stopped, so nothing but the operator ends the wait.
      await waitExplained(p, since, "pg2's lease to be unchanged for over a lease TTL", async () => {
        const seen = await latestObservations(p.store, p.spec.cluster, Date.now() - 10_000);
        const o = seen.ok ? seen.observations.find((x) => x.node === 'pg2') : undefined;
        return o?.lease ? Date.now() - o.lease.changedSeenAt > leaseTtlMs + 1_000 : false;
      }, 30_000);
    } finally {
      // The host goes: its PostgreSQL and its (stopped) agent are killed.
      await crashNode(p, 'pg2');
    }

    const stuck = await waitExplained(p, since, 'status to explain the wait for the lost candidate', async () => {
      const r = await runCli(['status', '--json', ...wd]);
      if (r.code !== 0) return false;
      const s = JSON.parse(r.stdout) as { failoverExplained: { step: string; to: string; waitsFor: string; endsWhen: string } | null };
      return s.failoverExplained?.step === 'promoting' && /pg2, asked to promote, is lost/.test(s.failoverExplained.waitsFor) ? s.failoverExplained : false;
    }, 60_000);
    assert.match(stuck.endsWhen, /pgvigil abort/);
    const text = await runCli(['status', ...wd]);
    assert.match(text.stdout, /waits for: pg2, asked to promote, is lost: it may be primary/);

    const aborted = await runCli(['abort', '--reason', 'pg2 host lost', ...wd]);
    assert.equal(aborted.code, 0, aborted.stderr);
    assert.match(aborted.stdout, /aborted by .+: pg2 host lost, at step promoting; pg2 is deposed/);
    await waitExplained(p, since, 'the abort in the log the kit follows', () => p.events.some((e) => e.type === 'FailoverAborted' && /pg2 host lost/.test(e.reason)), 30_000);

    const done = await waitExplained(
      p,
      since,
      'the next failover to complete with pg3',
      () => p.events.find((e) => e.type === 'FailoverCompleted' && e.to === 'pg3'),
      90_000,
    );
    assert.equal(done.type === 'FailoverCompleted' && done.from, 'pg1');
    assert.equal(await roleOf(p, 'pg3'), 'primary');
    const state = (await p.state())!;
    assert.equal(state.primary, 'pg3');
    assert.ok(Object.hasOwn(state.deposed, 'pg2'), 'pg2 stays deposed until it is rewound');
  });
});
