import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { alertsFor, type AlertMessage } from '../../lib/alerts/alertMessage.ts';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import { runCli, startCli } from '../support/cliRun.ts';
import { eventsAfter, fromOperator, settledCount, waitExplained } from '../support/decisionCount.ts';
import { crashNode, roleOf, roles, startTestPipeline, upstreamOf, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { latestObservations } from '../../lib/store/observations.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhookReceiver.ts';
import { TOLERANT_TIMING } from '../support/tolerantTiming.ts';

describe('pgvigil on a live local cluster: bad input, manual failover, crash failover, status, history, webhook', () => {
  let p: TestPipeline;
  let hook: WebhookReceiver;
  let wd: string[];
  let crashedAt = 0;

  before(async () => {
    hook = await startWebhookReceiver();
    p = await startTestPipeline(17310, { webhook: hook.url, timing: TOLERANT_TIMING });
    wd = ['--workdir', p.workDir];
  });
  after(async () => {
    await p?.dispose();
    await hook?.close();
  });

  test('bad input: a clear message, exit code 2, nothing changed', async () => {
    const before = await settledCount(p);
    const cases: { args: string[]; says: RegExp }[] = [
      { args: ['switchover', '--to', 'pg9'], says: /unknown node "pg9"/ },
      { args: ['failover', '--to', 'pg9'], says: /unknown node "pg9"/ },
      { args: ['rejoin', 'pg9'], says: /unknown node "pg9"/ },
      { args: ['remove-node', 'pg9'], says: /unknown node "pg9"/ },
      { args: ['failover', '--to', 'pg2'], says: /has not failed.*switchover --to pg2/ },
      { args: ['history', '--since', 'yesterday'], says: /--since "yesterday" is not a time/ },
      { args: ['switchover', '--at', 'soonish'], says: /--at "soonish" is not a time/ },
      { args: ['history', '--type', 'Bogus'], says: /unknown event type "bogus"/ },
      { args: ['add-node', '--name', 'pg4', '--host', '127.0.0.1', '--port', 'x', '--agent', 'http://127.0.0.1:1'], says: /--port/ },
    ];
    // Two at a time: a burst of CLI processes on a small machine would starve the probes.
    const results = [];
    for (let i = 0; i < cases.length; i += 2) results.push(...(await Promise.all(cases.slice(i, i + 2).map((c) => runCli([...c.args, ...wd])))));
    results.forEach((r, i) => {
      const c = cases[i]!;
      assert.equal(r.code, 2, `${c.args.join(' ')} exits 2 (stderr: ${r.stderr})`);
      assert.match(r.stderr, c.says, `${c.args.join(' ')} says why`);
      assert.match(r.stderr, /next: /, `${c.args.join(' ')} says what to do next`);
      assert.equal(r.stdout, '', `${c.args.join(' ')} prints nothing on stdout`);
    });
    // The control loop may record health meanwhile (a busy machine can blind it for a moment): none of it may come from the command.
    const fresh = await eventsAfter(p, before);
    assert.deepEqual(fromOperator(fresh), [], 'no decision came from the refused commands');

    const missing = await runCli(['status', '--workdir', `${p.workDir}/nowhere`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /pgvigil up --workdir/, 'a missing work dir says to run pgvigil up');
  });

  test('a switchover while a failover runs is refused; the manual failover completes once the old primary is fenced', async () => {
    // With pg1's agent gone and its standbys streaming from it, nothing can prove pg1 stopped: the failover waits in its fencing step.
    await p.agents.get('pg1')!.stop();
    const failover = startCli(['failover', '--to', 'pg2', '--force', '--timeout', '120', ...wd]);
    await waitFor('the manual failover to start', async () => (await p.state())?.failover?.kind === 'manual', 30_000);
    const term = (await p.state())!.term;
    try {
      const refused = await runCli(['switchover', ...wd]);
      assert.equal(refused.code, 2, `${refused.stderr}\nlog: ${p.events.map((e) => `t${e.term} ${e.type}: ${e.reason}`).join('\n')}`);
      assert.match(refused.stderr, /manual from pg1 to pg2 \(term \d+\) is in progress/);
      assert.ok(!p.events.some((e) => e.type === 'FailoverStarted' && e.kind === 'switchover'), 'no switchover was started');
      assert.equal((await p.state())!.term, term, 'the term did not move');
      // The fence is tried while the agent is away (the reactor acts on the operator's decision
      // when it next reads the log: seen to take over 2 s on a loaded machine), and fails.
      await waitFor("the fence of pg1 to fail: its agent is stopped", () => p.events.some((e) => e.type === 'ActionFailed' && e.intent.action === 'fence' && e.intent.node === 'pg1' && e.term === term), 30_000);
    } finally {
      await p.agents.get('pg1')!.start();
    }
    const done = await failover.done;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /manual failover started: pg1 → pg2/);
    if (!/fence-failed\s+pg1\s+fence on pg1 failed: agent unreachable/.test(done.stdout)) {
      // Seen once in a full run: an agent answered the fence though the test had stopped it. Say what it logged.
      const log = await readFile(join(p.workDir, 'agents', 'pg1', 'agent.log'), 'utf8').catch((e: Error) => e.message);
      const restarts = p.events.filter((e) => e.type === 'AgentRestarted').map((e) => `${e.at} ${e.reason}`);
      assert.fail(`progress shows why it waited:\n${done.stdout}\nAgentRestarted: ${restarts.join('; ') || 'none'}\npg1 agent log (tail):\n${log.split('\n').slice(-25).join('\n')}`);
    }
    assert.match(done.stdout, /Fenced\s+pg1\s+\S/, 'progress shows the fencing');
    assert.match(done.stdout, /manual failover completed in [\d.]+ s: pg2 is primary of term \d+/);
    assert.equal(await roleOf(p, 'pg2'), 'primary');
  });

  test('status --json matches the real roles after a crash failover', async () => {
    await waitFor('pg1 and pg3 to stream from pg2', async () => (await upstreamOf(p, 'pg1')) === 'pg2' && (await upstreamOf(p, 'pg3')) === 'pg2', 90_000);
    // And the probe to have seen both on pg2's timeline: a standby still on the old one when pg2
    // fails has none of pg2's WAL and is rightly refused as a candidate ("behind pg2's timeline").
    // The prober reads it from the WAL file at each standby's end, so once pg2's first WAL has
    // reached them this holds, receiver or not (ARCHITECTURE, closed problems).
    await waitFor("the probe to see pg1 and pg3 on pg2's timeline", async () => {
      const read = await latestObservations(p.store, p.spec.cluster, Date.now() - 60_000);
      if (!read.ok) return false;
      const of = (n: string) => read.observations.find((o) => o.node === n);
      const primaryTl = of('pg2')?.timeline ?? null;
      return primaryTl !== null && ['pg1', 'pg3'].every((n) => of(n)?.role === 'standby' && (of(n)?.timeline ?? 0) >= primaryTl);
    }, 60_000);
    // Synchronous mode fails over only from a primary whose setting the log recorded (rule 2): the
    // promote answer now carries it (ARCHITECTURE, closed problems), so this wait checks it came.
    await waitExplained(p, crashedAt, "pg2's synchronous_standby_names recorded while it is primary", async () => (await p.state())?.primarySyncNames?.node === 'pg2', 30_000);
    const term = (await p.state())!.term;
    crashedAt = Date.now();
    await crashNode(p, 'pg2');
    await waitExplained(p, crashedAt, 'the crash failover to complete', () => p.events.some((e) => e.type === 'FailoverCompleted' && e.term === term + 1), 60_000);

    const match = await waitFor(
      'status --json to agree with what each node says it is',
      async () => {
        const r = await runCli(['status', '--json', ...wd]);
        assert.equal(r.code, 0, r.stderr);
        const s = JSON.parse(r.stdout) as { primary: string; term: number; paused: boolean; nodes: { name: string; role: string }[] };
        const real = await roles(p);
        const shown = p.cluster.nodes.map((n) => s.nodes.find((x) => x.name === n.name)?.role);
        const expected = real.map((r) => (r === 'down' ? 'unknown' : r));
        return JSON.stringify(shown) === JSON.stringify(expected) ? { s, real } : false;
      },
      45_000,
      500,
    );
    const primary = p.cluster.nodes[match.real.indexOf('primary')]!.name;
    assert.equal(match.s.primary, primary, 'status names the real primary');
    assert.notEqual(primary, 'pg2');
    assert.equal(match.s.term, term + 1);
    assert.equal(match.s.paused, false);
    assert.equal(match.s.nodes.find((n) => n.name === 'pg2')?.role, 'unknown', 'the crashed node is not shown with a role');
  });

  test('history lists the failover step by step with reasons and evidence; --json parses; filters work', async () => {
    const term = (await p.state())!.term;
    const ofTerm = p.events.filter((e) => e.term === term);
    const human = await runCli(['history', ...wd]);
    assert.equal(human.code, 0, human.stderr);
    for (const [label, type] of [
      ['FailoverStarted', 'FailoverStarted'],
      ['Fenced', 'Fenced'],
      ['Promoted', 'Promoted'],
      ['endpoints-done', 'ActionSucceeded'],
      ['FailoverCompleted', 'FailoverCompleted'],
    ] as const) {
      const e = ofTerm.find((x) => x.type === type && (type !== 'ActionSucceeded' || (x.type === 'ActionSucceeded' && x.intent.action === 'endpoints')));
      assert.ok(e, `term ${term} has ${label}`);
      const line = human.stdout.split('\n').find((l) => l.includes(label) && l.includes(e.reason));
      assert.ok(line, `history shows ${label} with its reason: ${e.reason}`);
      assert.match(line, new RegExp(`^\\S+Z\\s+\\d+\\s+${term}\\s+${label}`), `${label} line starts with time, seq, term`);
    }
    // The auditor's question: why did the primary change? The evidence lines under FailoverStarted answer it.
    const started = human.stdout.split('\n').findIndex((l) => new RegExp(`^\\S+Z\\s+\\d+\\s+${term}\\s+FailoverStarted`).test(l));
    const evidence = human.stdout.split('\n').slice(started + 1, started + 5).join('\n');
    assert.match(evidence, /evidence \(what the probes saw\)/);
    assert.match(evidence, /pg2\s+unreachable \(refused/, 'the evidence shows the crashed primary refusing connections');

    const all = await runCli(['history', '--json', ...wd]);
    assert.equal(all.code, 0, all.stderr);
    const entries = JSON.parse(all.stdout) as (DecisionEvent & { seq: number; node: string; time: string })[];
    const key = (e: { type: string; at: number }) => `${e.type}@${e.at}`;
    const first = entries.findIndex((e) => key(e) === key(p.events[0]!));
    assert.ok(first >= 0, 'the JSON holds the events the pipeline reported');
    const n = Math.min(p.events.length, entries.length - first);
    assert.deepEqual(entries.slice(first, first + n).map(key), p.events.slice(0, n).map(key), 'the JSON lists the log in order');
    assert.ok(entries.every((e, i) => i === 0 || e.seq >= entries[i - 1]!.seq), 'in sequence order');

    const started2 = JSON.parse((await runCli(['history', '--json', '--type', 'FailoverStarted', ...wd])).stdout) as DecisionEvent[];
    assert.deepEqual(
      started2.map((e) => e.term),
      entries.filter((e) => e.type === 'FailoverStarted').map((e) => e.term),
      '--type keeps only that type',
    );
    assert.ok(started2.every((e) => e.type === 'FailoverStarted' && e.evidence.length === 3), 'each carries the evidence of all three nodes');

    const pg2 = JSON.parse((await runCli(['history', '--json', '--node', 'pg2', '--type', 'Fenced,NodeDown', ...wd])).stdout) as { node: string; type: string }[];
    assert.ok(pg2.length >= 2, 'pg2 was fenced and seen down');
    assert.ok(pg2.every((e) => e.node === 'pg2' && (e.type === 'Fenced' || e.type === 'NodeDown')), '--node and --type combine');

    const since = new Date(crashedAt).toISOString();
    const recent = JSON.parse((await runCli(['history', '--json', '--since', since, ...wd])).stdout) as { at: number }[];
    assert.ok(recent.length > 0 && recent.every((e) => e.at >= crashedAt), '--since drops older events');
    const later = entries.filter((e) => e.at >= crashedAt);
    assert.deepEqual(recent.slice(0, later.length).map((e) => e.at), later.map((e) => e.at), '--since keeps every later event');
  });

  test('the webhook receives one message per alert event, in order', async () => {
    // The decision feed starts unpaused, after ClusterInitialized: the same events, through the one message format.
    const expected = (): AlertMessage[] => alertsFor('local', p.events, false);
    await waitFor('every alert to reach the webhook', () => hook.alerts.length >= expected().length, 15_000);
    const want = expected();
    // Two failovers ran (manual, then crash): at least their starts and completions are due; load adds node down/up.
    assert.ok(want.length >= 4, `alerts were due (${want.length})`);
    assert.deepEqual(
      hook.alerts.slice(0, want.length).map((a) => `${a.event}|${a.term}|${a.subject}`),
      want.map((a) => `${a.event}|${a.term}|${a.subject}`),
      'one message per alert event, in the order decided',
    );
    const completed = hook.alerts.find((a) => a.event === 'FailoverCompleted' && a.severity === 'critical');
    assert.ok(completed, 'a failover completed alert arrived');
    assert.match(completed.body, /Reason: {3}\S/);
    assert.match(completed.body, /pgvigil history --since \d{4}-/, 'the body says how to look further');
  });
});
