import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ClusterStatus } from '../../lib/cli/clusterStatus.ts';
import type { EventOf } from '../../lib/domain/events.ts';
import { runCli } from '../support/cliRun.ts';
import { crashNode, roleOf, startTestPipeline, upstreamOf, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * Issue 13 item 8, as a new user found it: in `pgvigil up`, a standby's host power-cycles (its
 * postmaster and its agent SIGKILLed), and only the agent comes back, as on a host where systemd
 * starts the agent alone. The decider asks that agent to start its PostgreSQL as a standby of
 * the primary, and the reason is in the history.
 */
describe('a standby whose host restarts comes back as a standby', () => {
  let p: TestPipeline;
  let wd: string[];

  before(async () => {
    p = await startTestPipeline(22100);
    wd = ['--workdir', p.workDir];
  });
  after(async () => {
    await p?.dispose();
  });

  async function statusOf(node: string) {
    const r = await runCli(['status', '--json', ...wd]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as ClusterStatus;
    return { status: s, row: s.nodes.find((n) => n.name === node)! };
  }

  const requested = (from: number) =>
    p.events.slice(from).find((e): e is EventOf<'ActionRequested'> => e.type === 'ActionRequested' && e.intent.action === 'follow' && e.intent.node === 'pg3');

  test('pg3 power-cycled (postmaster and agent SIGKILLed), its agent started again: pg3 streams from pg1 again, and pgvigil history says why', async () => {
    const term = (await p.state())!.term;
    const seen = p.events.length;
    await crashNode(p, 'pg3');
    await waitFor('NodeDown for pg3', () => p.events.slice(seen).some((e) => e.type === 'NodeDown' && e.node === 'pg3'), 20_000);
    assert.equal(requested(seen), undefined, 'nothing is asked of a node whose agent is gone too');
    assert.equal(await roleOf(p, 'pg3'), 'down');

    await p.agents.get('pg3')!.start();
    const asked = await waitFor('a follow of pg3 asked by the decider', () => requested(seen), 45_000);
    assert.equal(asked.intent.primary, 'pg1');
    assert.match(asked.reason, /pg3's PostgreSQL refuses connections \(\d+ probes in a row\) but its agent renews its lease: start it as a standby of pg1/);

    await waitFor('pg3 to stream from pg1', async () => (await upstreamOf(p, 'pg3')) === 'pg1', 30_000);
    await waitFor('pg3 a streaming standby in pgvigil status', async () => {
      const { row } = await statusOf('pg3');
      return row.role === 'standby' && row.state === 'streaming from pg1';
    });
    await waitFor('NodeUp for pg3', () => p.events.slice(seen).some((e) => e.type === 'NodeUp' && e.node === 'pg3'), 20_000);

    const history = await runCli(['history', ...wd]);
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /NodeDown\s+pg3/);
    assert.match(history.stdout, /pg3\s+pg3's PostgreSQL refuses connections .* start it as a standby of pg1/);
    assert.match(history.stdout, /NodeUp\s+pg3/);

    const types = p.events.slice(seen).map((e) => e.type);
    assert.ok(!types.includes('FailoverStarted'), `no failover: ${types.join(', ')}`);
    assert.equal((await p.state())!.term, term);
    assert.equal(await roleOf(p, 'pg1'), 'primary');
  });
});
