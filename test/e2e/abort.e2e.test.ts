/**
 * Issue 13 item 1 on real servers: a failover whose candidate is gone after its promote was
 * asked waits for it (it may be primary, holding writes); `pgvigil status` says so, and
 * `pgvigil abort` ends it, with the reason in history, so the next failover completes elsewhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { latestObservations } from '../../lib/store/observations.ts';
import { readLeases } from '../../lib/store/leases.ts';
import { clusterStatus, renderClusterStatus } from '../../lib/cli/clusterStatus.ts';
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
    // A longer lease than the default: the decider's own end to the wait (the lost candidate's lease
    // proof, fenceWaitMs plus its standby lease's longer TTL after its last renewal) then comes
    // several seconds after the operator's abort, not a race with it (ARCHITECTURE, "Every failover ends").
    p = await startTestPipeline(23000, { async: true, timing: { ...TOLERANT_TIMING, leaseTtlMs: 6_000, fenceWaitMs: 9_000 }, tags: { pg3: { priority: 50 } } });
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
    // Stopped just after a renewal, so the lost-candidate proof counts from now, not from up to a
    // standby's renewal period (2 × TTL) earlier.
    const leaseOf2 = async () => {
      const read = await readLeases(p.store, p.spec.cluster, ['pg2']);
      return read.ok ? (read.leases[0]?.version ?? null) : null;
    };
    const v0 = await leaseOf2();
    await waitExplained(p, since, "pg2's agent to renew its lease", async () => (await leaseOf2()) !== v0, 3 * p.spec.timing.leaseTtlMs);
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

    // What `pgvigil status` prints, made in process (the CLI's own clusterStatus and render): a CLI
    // process per poll would spend seconds of the window the abort must fit in.
    const status = async () => {
      const state = await p.state();
      const seen = await latestObservations(p.store, p.spec.cluster, Date.now() - 60_000);
      return state && seen.ok ? clusterStatus(state, seen.observations, Date.now()) : null;
    };
    const stuck = await waitExplained(p, since, 'status to explain the wait for the lost candidate', async () => {
      const s = await status();
      return s?.failoverExplained?.step === 'promoting' && /pg2, asked to promote, is lost/.test(s.failoverExplained.waitsFor) ? s : false;
    }, 60_000);
    assert.match(stuck.failoverExplained!.endsWhen, /pgvigil abort/);
    assert.match(renderClusterStatus(stuck), /waits for: pg2, asked to promote, is lost: it may be primary/);

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
