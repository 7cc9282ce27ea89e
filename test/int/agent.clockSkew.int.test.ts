import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { callAgent } from '../../lib/agent/agentClient.ts';
import { alertFor } from '../../lib/alerts/alertMessage.ts';
import { clusterStatus, renderClusterStatus } from '../../lib/cli/clusterStatus.ts';
import type { ControlPlane } from '../../lib/control/controlPlane.ts';
import { react } from '../../lib/control/reactor.ts';
import type { Command, CommandWithoutObservations } from '../../lib/domain/commands.ts';
import { decide } from '../../lib/domain/decide.ts';
import { intentId, type DecisionEvent } from '../../lib/domain/events.ts';
import { fold } from '../../lib/domain/evolve.ts';
import { ClusterSpec } from '../../lib/domain/spec.ts';
import { initialState, type ClusterState } from '../../lib/domain/state.ts';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { silentLog } from '../../lib/log.ts';
import type { CommitResult } from '../../lib/store/commitDecision.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { startTestAgent, TEST_KEY, type TestAgent } from '../support/agentHarness.ts';

const PG_PORT = 22500;
const AGENT_PORT = 22510;
const OFFSET_MS = 60_000;

/**
 * Issue 13 item 5 on a real agent over HTTP: its answers carry its clock, and the caller measures
 * the skew against its own. The skew is made on the control plane's side, whose clock is already
 * injected (ControlPlane.clock, callAgent's `clock`): a control plane 60 s behind sees the agent
 * 60 s ahead, as an agent whose clock ran 60 s fast would be. The agent's own clock is the
 * host's; no test-only setting was added to it.
 */
describe("an agent's clock beyond its maxSkewMs is measured, alerted once with the figure, and shown in pgvigil status", () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;
  let agent: TestAgent | undefined;
  let spec: ClusterSpec;

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-c-skew-');
    cluster = await createLocalCluster({ workDir, basePort: PG_PORT, names: ['a1'], replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    const node = cluster.nodes[0]!;
    agent = await startTestAgent({ cluster: 'skew', node, bindir: cluster.bindir, osUser: cluster.osUser, agentPort: AGENT_PORT, workDir });
    spec = ClusterSpec.parse({ cluster: 'skew', nodes: [{ name: 'a1', host: '127.0.0.1', port: PG_PORT, agent: agent.target.url }], replication: { mode: 'async' } });
  });
  after(async () => {
    await agent?.close();
    await cluster?.stopAll();
    await rm(workDir, { recursive: true, force: true });
  });

  const target = () => agent!.target;
  const near = (measured: number, expected: number, uncertainty: number) => Math.abs(measured - expected) <= uncertainty + 50;

  test('a request signed by a clock 60 s behind the agent is refused (401), and the refusal carries the agent\'s clock: measured 60 s ahead', async () => {
    const answer = await callAgent(target(), TEST_KEY, 'fence', { term: 1 }, { clock: () => Date.now() - OFFSET_MS });
    assert.equal(answer.ok, false);
    assert.equal(answer.httpStatus, 401);
    assert.match(answer.reason, /expired: signed \d+ ms ago, more than the allowed 5000 ms skew/);
    const c = answer.agentClock;
    assert.ok(c, `the answer carries the agent's clock: ${JSON.stringify(answer)}`);
    assert.ok(near(c.skewMs, OFFSET_MS, c.uncertaintyMs), `measured ${c.skewMs} ±${c.uncertaintyMs} ms`);
    assert.equal(c.maxSkewMs, 5_000);
    assert.deepEqual(await sqlOnce<{ recovery: boolean }>(PG_PORT, 'SELECT pg_is_in_recovery() AS recovery'), [{ recovery: false }], 'nothing was done');
  });

  test('a clock 60 s ahead of the agent: refused as from the future, measured 60 s behind', async () => {
    const answer = await callAgent(target(), TEST_KEY, 'status', {}, { clock: () => Date.now() + OFFSET_MS });
    assert.equal(answer.httpStatus, 401);
    assert.match(answer.reason, /from the future/);
    assert.ok(answer.agentClock && near(answer.agentClock.skewMs, -OFFSET_MS, answer.agentClock.uncertaintyMs), JSON.stringify(answer.agentClock));
  });

  test('clocks that agree: the answer is served, the skew measured within the round trip', async () => {
    const answer = await callAgent(target(), TEST_KEY, 'status', {});
    assert.equal(answer.httpStatus, 200);
    assert.ok(answer.agentClock && near(answer.agentClock.skewMs, 0, answer.agentClock.uncertaintyMs), JSON.stringify(answer.agentClock));
  });

  test('through the reactor and the decider: the skew is recorded once with its figure (one critical alert), shown by pgvigil status, and cleared when the clocks agree', async () => {
    let state: ClusterState = initialState('skew');
    const decideAt = (command: Command): DecisionEvent[] => {
      const d = decide(command, state);
      assert.ok(d.ok, d.ok ? '' : d.reason);
      state = fold(state, d.events);
      return d.events;
    };
    decideAt({ type: 'initialize', now: Date.now(), spec, primary: 'a1' });
    const askFence = (now: number, term: number) => {
      const intent = { id: intentId(term, 'fence', 'a1'), action: 'fence' as const, node: 'a1', term, primary: null, minLsn: null, readers: null, detach: false };
      state = fold(state, [{ v: 1, at: now, term, reason: 'the test asks a fence', type: 'ActionRequested', intent }]);
    };
    /** One reactor run against the real agent with a control plane on `clock`; what it fed is decided. */
    const run = async (clock: () => number): Promise<DecisionEvent[]> => {
      const fed: CommandWithoutObservations[] = [];
      const cp: ControlPlane = { store: null as never, agentKey: TEST_KEY, ...(agent!.ca !== undefined ? { agentCa: agent!.ca } : {}), endpoints: null, log: silentLog, decider: 'test', clock, awaitActions: true };
      await react(cp, 'skew', state, async (c) => (fed.push(c), { ok: true, seq: 0, events: [], state }) as CommitResult);
      assert.equal(fed.length, 1);
      return decideAt(fed[0] as Command);
    };

    const behind = () => Date.now() - OFFSET_MS;
    askFence(behind(), 2);
    const first = await run(behind);
    assert.deepEqual(first.map((e) => e.type), ['ActionFailed', 'ClockSkewed']);
    const skewed = first[1] as Extract<DecisionEvent, { type: 'ClockSkewed' }>;
    assert.ok(near(skewed.skewMs, OFFSET_MS, skewed.uncertaintyMs), `${skewed.skewMs}`);
    assert.match(skewed.reason, /the clock of a1's agent is 60\.\d s ahead of the control plane's \(±\d+ ms\), beyond the 5000 ms it allows: it refuses every signed request \(401\)/);
    const alert = alertFor('skew', skewed, false);
    assert.equal(alert?.severity, 'critical');
    assert.match(alert?.subject ?? '', /clock of a1's agent 60\.\d s off/);

    askFence(behind(), 3);
    const again = await run(behind);
    assert.deepEqual(again.map((e) => e.type), ['ActionFailed'], 'one alert per episode, not one per request');

    const status = clusterStatus(state, [], Date.now());
    assert.deepEqual(status.clockSkew.map((c) => [c.node, c.maxSkewMs]), [['a1', 5_000]]);
    assert.match(renderClusterStatus(status), /CLOCK SKEW: a1's agent is 60\.\d s ahead of the control plane \(±\d+ ms\), beyond the 5000 ms it allows: it refuses every action/);

    // The clocks agree again: the next answer clears it (a fence of term 4 that is carried out).
    askFence(Date.now(), 4);
    const cleared = await run(Date.now);
    assert.deepEqual(cleared.map((e) => e.type), ['ActionSucceeded', 'ClockSkewCleared']);
    assert.deepEqual(clusterStatus(state, [], Date.now()).clockSkew, []);
  });
});
