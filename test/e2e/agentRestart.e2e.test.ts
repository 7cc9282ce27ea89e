import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ClusterStatus } from '../../lib/cli/clusterStatus.ts';
import type { EventOf } from '../../lib/domain/events.ts';
import { readLeases } from '../../lib/store/leases.ts';
import { runCli } from '../support/cliRun.ts';
import { roleOf, startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';

describe('local mode supervises its agents: one SIGKILLed comes back, the restart is in the decision log, the node stays in the cluster', () => {
  let p: TestPipeline;
  let wd: string[];

  before(async () => {
    p = await startTestPipeline(16460);
    wd = ['--workdir', p.workDir];
  });
  after(async () => {
    await p?.dispose();
  });

  /** An unsigned request gets 401: the agent listens. */
  const answers = async (url: string) => (await fetch(`${url}/v1/actions/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1_000) })).status === 401;

  const leaseOf = async (node: string) => {
    const r = await readLeases(p.store, 'local', [node]);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    return r.leases.find((l) => l.node === node) ?? null;
  };

  /** SIGKILL the node's agent by the pid the pipeline knows, as the OOM killer would; answers when it is back, with the restart recorded. */
  async function killAgent(node: string): Promise<EventOf<'AgentRestarted'>> {
    const agent = p.agents.get(node)!;
    const pid = agent.pid();
    assert.ok(pid, `${node}'s agent runs`);
    const seen = p.events.length;
    const lease = await leaseOf(node);
    process.kill(pid, 'SIGKILL');
    await waitFor(`${node}'s agent to be restarted and answer`, async () => agent.pid() !== pid && (await answers(agent.url)), 20_000);
    const restarted = await waitFor(
      `AgentRestarted for ${node} in the decision log`,
      () => p.events.slice(seen).find((e): e is EventOf<'AgentRestarted'> => e.type === 'AgentRestarted' && e.node === node),
      20_000,
    );
    assert.equal(restarted.signal, 'SIGKILL');
    await waitFor(`the restarted agent of ${node} to renew its lease`, async () => ((await leaseOf(node))?.version ?? 0) > (lease?.version ?? 0) + 1, 10_000);
    return restarted;
  }

  async function statusOf(node: string) {
    const r = await runCli(['status', '--json', ...wd]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as ClusterStatus;
    return { status: s, row: s.nodes.find((n) => n.name === node)! };
  }

  test('a standby\'s agent SIGKILLed: restarted, AgentRestarted in pgvigil history, the node a streaming standby', async () => {
    const term = (await p.state())!.term;
    const e = await killAgent('pg2');
    assert.equal(e.restarts, 1);
    assert.match(e.reason, /agent of pg2 was killed by SIGKILL; its supervisor restarted it \(restart 1\)/);

    const history = await runCli(['history', '--type', 'AgentRestarted', ...wd]);
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /AgentRestarted\s+pg2\s+the agent of pg2 was killed by SIGKILL/);

    await waitFor('pg2 a streaming standby in pgvigil status', async () => {
      const { row } = await statusOf('pg2');
      return row.role === 'standby' && row.state === 'streaming from pg1';
    });
    assert.equal((await p.state())!.term, term, 'no term change: the restart decided nothing about failover');
  });

  test('the primary\'s agent SIGKILLed: restarted well within its lease, pg1 stays primary, no failover', async () => {
    const term = (await p.state())!.term;
    const seen = p.events.length;
    const e = await killAgent('pg1');
    assert.equal(e.restarts, 1, 'its own supervisor counts its own restarts');
    assert.equal(await roleOf(p, 'pg1'), 'primary', 'the lease was renewed in time: no self-fencing');
    const { status, row } = await statusOf('pg1');
    assert.deepEqual([status.primary, status.term, row.role], ['pg1', term, 'primary']);
    const types = p.events.slice(seen).map((x) => x.type);
    assert.ok(!types.includes('FailoverStarted') && !types.includes('Fenced'), `no failover: ${types.join(', ')}`);
  });
});
