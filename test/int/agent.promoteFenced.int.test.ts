import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { callAgent } from '../../lib/agent/agentClient.ts';
import type { AgentAction, AnswerOf, RequestOf } from '../../lib/agent/actions/wire.ts';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { startTestAgent, TEST_KEY, type TestAgent } from '../support/agentHarness.ts';
import { waitFor } from '../support/waitFor.ts';

/*
 * Issue 13 items 4 and 2a on real servers: a `promote` of a new term starts, as primary, a node
 * the control plane stopped (demote, fence) in an earlier term, over a data directory a primary
 * left, and refuses everything else: the same term's fence, a request older than the fence (the
 * term guard), a standby's data directory.
 */
const BASE = 30100;
const AGENT_BASE = 30110;
const names = ['f1', 'f2'] as const;
type Name = (typeof names)[number];
const port: Record<Name, number> = { f1: BASE, f2: BASE + 1 };

describe('agent promote of a new term over a fence of an earlier term (real PostgreSQL)', () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;
  const agents: Partial<Record<Name, TestAgent>> = {};

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-promote-fenced-');
    cluster = await createLocalCluster({ workDir, basePort: BASE, names: [...names], replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    for (const [i, n] of names.entries()) {
      const node = cluster.nodes.find((x) => x.name === n)!;
      agents[n] = await startTestAgent({ cluster: 'promote-fenced', node, bindir: cluster.bindir, osUser: cluster.osUser, agentPort: AGENT_BASE + i, workDir });
    }
  });
  after(async () => {
    for (const a of Object.values(agents)) await a?.close();
    await cluster?.stopAll();
    await rm(workDir, { recursive: true, force: true });
  });

  const act = <A extends AgentAction>(node: Name, action: A, body: RequestOf<A>): Promise<AnswerOf<A>> => callAgent(agents[node]!.target, TEST_KEY, action, body, { timeoutMs: 120_000 });
  const rows = async (name: Name) => (await sqlOnce<{ v: string }>(port[name], 'SELECT v FROM t ORDER BY v')).map((r) => r.v);
  const inRecovery = async (name: Name) => (await sqlOnce<{ r: boolean }>(port[name], 'SELECT pg_is_in_recovery() AS r'))[0]?.r;
  const fencedTerm = async (name: Name) => ((await act(name, 'status', {}))['fenced'] as { term: number } | null)?.term ?? null;

  test('a primary demoted in term 2 is not started by a promote of term 2 (the control plane\'s fence of that term holds)', async () => {
    await sqlOnce(port.f1, 'CREATE TABLE t (v text PRIMARY KEY)');
    await sqlOnce(port.f1, "INSERT INTO t VALUES ('before demote')");
    await waitFor('the row on f2', async () => (await rows('f2')).length === 1);
    const d = await act('f1', 'demote', { term: 2 });
    assert.equal(d.ok, true, d.reason);
    const same = await act('f1', 'promote', { term: 2 });
    assert.equal(same.ok, false);
    assert.match(same.reason, /fenced at term 2: demoted for switchover at term 2\): a promote of term 2 lifts only/);
    assert.equal((await act('f1', 'status', {}))['role'], 'stopped');
  });

  test('fenced again in term 3: a promote of term 2 is refused as stale, and one of term 3 is refused by the fence of that term', async () => {
    const f = await act('f1', 'fence', { term: 3 });
    assert.equal(f.ok, true, f.reason);
    const older = await act('f1', 'promote', { term: 2 });
    assert.equal(older.httpStatus, 409, 'a request older than the fence never runs');
    const same = await act('f1', 'promote', { term: 3 });
    assert.equal(same.ok, false);
    assert.match(same.reason, /fenced at term 3/);
    assert.equal(await fencedTerm('f1'), 3);
    assert.equal((await act('f1', 'status', {}))['role'], 'stopped');
  });

  test('a promote of term 4 starts it again as primary with its data, and lifts the fence', async () => {
    const p = await act('f1', 'promote', { term: 4 });
    assert.equal(p.ok, true, p.reason);
    assert.match(p.reason, /^restarted as primary of term 4 over the fence of term 3 \(fence action at term 3\)/);
    assert.equal(p.promoted, false, 'no promotion: the same timeline goes on');
    assert.equal(await inRecovery('f1'), false);
    assert.equal(await fencedTerm('f1'), null);
    await sqlOnce(port.f1, "INSERT INTO t VALUES ('after restart')");
    // Its standby, never re-pointed, streams from it again.
    await waitFor('the new row on f2', async () => (await rows('f2')).includes('after restart'));
    const again = await act('f1', 'promote', { term: 4 });
    assert.equal(again.ok, true, again.reason);
    assert.equal(again.reason, 'already primary');
  });

  test('a restart (restartOnly, as the reactor sends for the log\'s primary) never promotes a running standby', async () => {
    const r = await act('f2', 'promote', { term: 4, restartOnly: true });
    assert.equal(r.ok, false);
    assert.match(r.reason, /this node is a standby: a restart starts a stopped primary again and never promotes a standby/);
    assert.equal(await inRecovery('f2'), true);
  });

  test('a standby fenced in term 4 is never started as primary by a promote of term 5: its data directory was not a primary\'s', async () => {
    const f = await act('f2', 'fence', { term: 4 });
    assert.equal(f.ok, true, f.reason);
    const p = await act('f2', 'promote', { term: 5 });
    assert.equal(p.ok, false);
    assert.match(p.reason, /fenced at term 4.*not started as primary of term 5: its data directory was not left by a primary \(control file: (in archive recovery|shut down in recovery); standby.signal present\)/);
    assert.equal((await act('f2', 'status', {}))['role'], 'stopped');
    assert.equal(await fencedTerm('f2'), 4, 'the fence still holds');
    assert.equal(await cluster!.postmasterPid('f2'), null);
  });
});
