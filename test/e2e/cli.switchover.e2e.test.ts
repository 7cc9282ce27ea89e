import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { latestObservations } from '../../lib/store/observations.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { runCli } from '../support/cliRun.ts';
import { eventsAfter, fromOperator, settledCount } from '../support/decisionCount.ts';
import { crashNode, roleOf, startTestPipeline, upstreamOf, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhookReceiver.ts';
import { WriteLoad, missingAcked } from '../support/writeLoad.ts';
import { TOLERANT_TIMING } from '../support/tolerantTiming.ts';

describe('pgvigil switchover, pause and resume on a live local cluster (pg3 tagged nofailover)', () => {
  let p: TestPipeline;
  let hook: WebhookReceiver;
  let wd: string[];

  before(async () => {
    hook = await startWebhookReceiver();
    p = await startTestPipeline(17330, { webhook: hook.url, timing: TOLERANT_TIMING, tags: { pg3: { nofailover: true } } });
    wd = ['--workdir', p.workDir];
  });
  after(async () => {
    await p?.dispose();
    await hook?.close();
  });

  test('switchover --to a nofailover node is refused with its reason, exit 2, nothing changed', async () => {
    const before = await settledCount(p);
    const r = await runCli(['switchover', '--to', 'pg3', ...wd]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /refused: switchover refused: pg3 is tagged nofailover/);
    assert.match(r.stderr, /nothing was changed/);
    assert.equal(r.stdout, '');
    // The control loop may record health meanwhile (a busy machine can blind it for a moment): none of it may come from the command.
    const fresh = await eventsAfter(p, before);
    assert.deepEqual(fromOperator(fresh), [], 'no decision came from the refused switchover');
  });

  test('switchover under a writing client: no acknowledged write lost, the old primary follows', async () => {
    await WriteLoad.prepare(p.writerUrl);
    const load = new WriteLoad(p.writerUrl);
    load.start();
    try {
      await waitFor('writes through the writer endpoint', () => load.acked.length >= 20);
      const r = await runCli(['switchover', '--json', '--timeout', '90', ...wd]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { ok: boolean; outcome: string; kind: string; from: string; to: string; term: number; events: { type: string }[] };
      assert.deepEqual([out.ok, out.outcome, out.kind, out.from, out.to], [true, 'completed', 'switchover', 'pg1', 'pg2'], 'pg2 is the only candidate: pg3 is nofailover');
      assert.equal(out.events.at(-1)?.type, 'FailoverCompleted');
      assert.match(r.stderr, /switchover started: pg1 → pg2/, 'progress went to stderr');
      const switched = Date.now();
      await waitFor('writes acknowledged by pg2 after the switchover', () => load.ackTimes.filter((t, i) => t >= switched && load.ackPorts[i] === p.cluster.nodes[1]!.port).length >= 20, 30_000);
    } finally {
      await load.stop();
    }
    assert.equal(await roleOf(p, 'pg2'), 'primary');
    assert.deepEqual(await missingAcked(p.cluster.connectionString('pg2'), load.acked), [], 'lost_acked=0: every acknowledged write is on the new primary');
    await waitFor('pg1 to stream from pg2', async () => (await upstreamOf(p, 'pg1')) === 'pg2', 60_000);
    await waitFor('pg3 to stream from pg2', async () => (await upstreamOf(p, 'pg3')) === 'pg2', 60_000);
  });

  test('switchover --timeout whose promotion keeps failing (the candidate\'s agent stopped): recorded as failed, the old primary serves again in a new term', async () => {
    // pg2 is primary since the switchover above; pg1 is the only candidate (pg3 is nofailover).
    const term = (await p.state())!.term;
    await p.agents.get('pg1')!.stop();
    try {
      const r = await runCli(['switchover', '--to', 'pg1', '--timeout', '8s', ...wd]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /switchover aborted: switchover pg2 → pg1 of term \d+ failed: its deadline of 8 s passed with pg1 not promoted/);
      const restart = await waitFor("pg2's restart answered", () => p.events.find((e) => e.type === 'ActionSucceeded' && e.intent.action === 'promote' && e.intent.node === 'pg2' && e.intent.id.endsWith(':restart')), 60_000);
      assert.equal(restart.type === 'ActionSucceeded' && restart.intent.term, term + 2, 'a new term past the switchover\'s');
      assert.match(restart.reason, /restarted as primary of term \d+ over the fence of term \d+ \(demoted for switchover/);
      const alert = await waitFor('the alert of the failed switchover', () => hook.alerts.find((a) => a.event === 'FailoverAborted' && a.term === term + 1), 15_000);
      assert.match(alert.body, /deadline of 8 s passed/);
      assert.equal(await roleOf(p, 'pg2'), 'primary');
      await sqlOnce(p.cluster.nodes[1]!.port, 'CREATE TABLE IF NOT EXISTS after_failed_switchover (v int)');
      const status = JSON.parse((await runCli(['status', '--json', ...wd])).stdout) as { primary: string };
      assert.equal(status.primary, 'pg2');
    } finally {
      await p.agents.get('pg1')!.start();
    }
    // pg1 never left recovery: its receiver goes back to pg2, on the same timeline.
    await waitFor('pg1 to stream from pg2 again', async () => (await upstreamOf(p, 'pg1')) === 'pg2', 60_000);
  });

  test('paused: a dead primary is not failed over; status and the alert say paused', async () => {
    const paused = await runCli(['pause', ...wd]);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /maintenance mode requested by/);
    const term = (await p.state())!.term;
    const seen = p.events.length;
    // Alerts from here on: the failed switchover above already reported pg2 down once, unpaused.
    const alertsSeen = hook.alerts.length;

    await crashNode(p, 'pg2');
    // Long enough that, unpaused, the failover would have started: failure window, fence wait and a margin.
    const timing = p.spec.timing;
    const enough = timing.probeIntervalMs * timing.failureThreshold + timing.fenceWaitMs + 2_000;
    await waitFor(
      `pg2 to have failed for ${enough} ms`,
      async () => {
        const read = await latestObservations(p.store, 'local', Date.now() - 60_000);
        const o = read.ok ? read.observations.find((x) => x.node === 'pg2') : undefined;
        return !!o && !o.reachable && o.failingSince !== null && Date.now() - o.failingSince >= enough;
      },
      60_000,
      250,
    );
    const after = p.events.slice(seen);
    assert.ok(after.some((e) => e.type === 'NodeDown' && e.node === 'pg2'), 'pg2 is recorded down');
    assert.ok(!after.some((e) => e.type === 'FailoverStarted' || e.type === 'ActionRequested'), `no automatic action while paused (${after.map((e) => e.type).join(', ')})`);
    const state = (await p.state())!;
    assert.deepEqual([state.primary, state.term, state.paused], ['pg2', term, true]);

    const human = await runCli(['status', ...wd]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /PAUSED \(maintenance mode\)/);
    const json = JSON.parse((await runCli(['status', '--json', ...wd])).stdout) as { paused: boolean; nodes: { name: string; state: string }[] };
    assert.equal(json.paused, true);
    assert.match(json.nodes.find((n) => n.name === 'pg2')!.state, /^down/);

    const alert = await waitFor('the NodeDown alert of pg2 at the webhook', () => hook.alerts.slice(alertsSeen).find((a) => a.event === 'NodeDown' && a.node === 'pg2'), 15_000);
    assert.equal(alert.paused, true);
    assert.match(alert.subject, /\[PAUSED\]/);
    assert.match(alert.body, /paused: maintenance mode, no automatic action/);
    const pausedAlert = hook.alerts.find((a) => a.event === 'Paused');
    assert.ok(pausedAlert?.paused, 'the Paused alert itself says paused');
  });

  test('resume: the failover happens', async () => {
    const term = (await p.state())!.term;
    const r = await runCli(['resume', ...wd]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /maintenance mode ended by/);
    const done = await waitFor('the failover after resume', () => p.events.find((e) => e.type === 'FailoverCompleted' && e.term === term + 1), 60_000);
    assert.equal(done.type === 'FailoverCompleted' && done.to, 'pg1', 'pg1 takes over: pg3 is nofailover');
    assert.equal(await roleOf(p, 'pg1'), 'primary');
    const resumed = hook.alerts.find((a) => a.event === 'Resumed');
    assert.equal(resumed?.paused, false);
    const status = JSON.parse((await runCli(['status', '--json', ...wd])).stdout) as { paused: boolean; primary: string };
    assert.deepEqual([status.paused, status.primary], [false, 'pg1']);
  });
});
