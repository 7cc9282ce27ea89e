import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { callAgent } from '../../lib/agent/agentClient.ts';
import type { AgentAction, AnswerOf, RequestOf } from '../../lib/agent/actions/wire.ts';
import { runPg } from '../../lib/postgres/pgCommand.ts';
import { childrenOf } from '../../lib/postgres/pgServer.ts';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { startTestAgent, TEST_KEY, type TestAgent } from '../support/agentHarness.ts';
import { waitFor } from '../support/waitFor.ts';
import { signalServer } from '../support/signalServer.ts';

const BASE = 15520;
const AGENT_BASE = 15530;
const names = ['c1', 'c2', 'c3'] as const;
const port = { c1: BASE, c2: BASE + 1, c3: BASE + 2, c4: BASE + 3 } as const;
type Name = keyof typeof port;
const peer = (name: Name) => ({ name, host: '127.0.0.1', port: port[name] });

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('agent actions on a real 3-node cluster (async)', () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;
  const agents: Partial<Record<Name, TestAgent>> = {};
  const costs: Record<string, number> = {};

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-c-actions-');
    cluster = await createLocalCluster({ workDir, basePort: BASE, names: [...names], replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    for (const [i, n] of [...names, 'c4' as const].entries()) {
      const node = cluster.nodes.find((x) => x.name === n) ?? { name: n, port: port[n], dataDir: join(workDir, n) };
      agents[n] = await startTestAgent({ cluster: 'actions', node, bindir: cluster.bindir, osUser: cluster.osUser, agentPort: AGENT_BASE + i, workDir });
    }
  });
  after(async () => {
    for (const a of Object.values(agents)) await a?.close();
    if (cluster) {
      // A test that failed while c1 was frozen must not leave frozen processes behind.
      await signalAll('c1', 'SIGCONT').catch(() => {});
      await runPg(cluster.bindir, 'pg_ctl', ['stop', '-m', 'immediate', '-D', join(workDir, 'c4')], { osUser: cluster.osUser, timeoutMs: 20_000 });
      await cluster.stopAll();
    }
    console.log(`# agent action costs (ms): ${Object.entries(costs).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    await rm(workDir, { recursive: true, force: true });
  });

  async function act<A extends AgentAction>(node: Name, action: A, body: RequestOf<A>, cost?: string): Promise<AnswerOf<A>> {
    const started = Date.now();
    const r = await callAgent(agents[node]!.target, TEST_KEY, action, body, { timeoutMs: 120_000 });
    if (cost) costs[cost] = Date.now() - started;
    return r;
  }
  const rows = async (name: Name) => (await sqlOnce<{ v: string }>(port[name], 'SELECT v FROM t ORDER BY v')).map((r) => r.v);
  const timeline = async (name: Name) => {
    const [r] = await sqlOnce<{ tli: number }>(port[name], "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli");
    return r?.tli;
  };
  const upstreamPort = async (name: Name) => {
    const [r] = await sqlOnce<{ status: string | null; sender_port: number | null }>(port[name], 'SELECT status, sender_port FROM pg_stat_wal_receiver');
    return r?.status === 'streaming' ? r.sender_port : null;
  };
  const postmaster = (name: Name) => cluster!.postmasterPid(name);
  const signalAll = (name: Name, sig: NodeJS.Signals) => signalServer(cluster!, name, sig);

  test('status reports one primary and two standbys', async () => {
    const roles = await Promise.all(names.map(async (n) => (await act(n, 'status', {}))['role']));
    assert.deepEqual(roles, ['primary', 'standby', 'standby']);
    await sqlOnce(port.c1, 'CREATE TABLE t (v text PRIMARY KEY)');
    await sqlOnce(port.c1, "INSERT INTO t VALUES ('before split')");
    for (const n of ['c2', 'c3'] as const) await waitFor(`the row on ${n}`, async () => (await rows(n)).length === 1);
  });

  test('promote a standby of a frozen primary; a second promote of the same term is the same promotion (the timeline rises once)', async () => {
    assert.equal(await timeline('c1'), 1);
    // The primary hangs (every process stopped): neither standby receives anything more from it.
    await signalAll('c1', 'SIGSTOP');
    await waitFor('both standbys to have received the same WAL', async () => {
      const [a, b] = await Promise.all((['c2', 'c3'] as const).map(async (n) => (await sqlOnce<{ lsn: string }>(port[n], 'SELECT pg_last_wal_replay_lsn()::text AS lsn'))[0]?.lsn));
      return a !== undefined && a === b;
    });
    // Synchronous mode: the setting is put in force before the node takes a write, and answered.
    const first = await act('c2', 'promote', { term: 1, synchronousStandbyNames: 'ANY 1 (c1, c3)' }, 'promote');
    assert.equal(first.ok, true, first.reason);
    assert.equal(first['promoted'], true);
    assert.equal(first['synchronousStandbyNames'], 'ANY 1 (c1, c3)');
    const [setting] = await sqlOnce<{ value: string }>(port.c2, "SELECT current_setting('synchronous_standby_names') AS value");
    assert.equal(setting?.value, 'ANY 1 (c1, c3)', 'what the answer says is what PostgreSQL enforces');
    const second = await act('c2', 'promote', { term: 1, synchronousStandbyNames: 'ANY 1 (c1, c3)' });
    assert.equal(second.ok, true, second.reason);
    assert.equal(second['promoted'], false);
    assert.equal(second['synchronousStandbyNames'], 'ANY 1 (c1, c3)');
    // No standby streams from c2 yet: asynchronous again, so the cases after this one can write.
    await sqlOnce(port.c2, 'ALTER SYSTEM RESET synchronous_standby_names');
    await sqlOnce(port.c2, 'SELECT pg_reload_conf()');
    await waitFor('c2 to commit asynchronously again', async () => (await sqlOnce<{ value: string }>(port.c2, "SELECT current_setting('synchronous_standby_names') AS value"))[0]?.value === '');
    assert.equal(await timeline('c2'), 2);
    const [r] = await sqlOnce<{ recovery: boolean }>(port.c2, 'SELECT pg_is_in_recovery() AS recovery');
    assert.equal(r?.recovery, false);
  });

  test('an action with a stale term is refused with 409 and nothing is done', async () => {
    const stale = await act('c2', 'fence', { term: 0 });
    assert.equal(stale.httpStatus, 409);
    assert.equal(stale['currentTerm'], 1);
    assert.notEqual(await postmaster('c2'), null, 'the new primary must still run');
    await sqlOnce(port.c2, "INSERT INTO t VALUES ('on new primary')");
  });

  test('follow re-points a standby at the new primary, which it then streams from', async () => {
    const r = await act('c3', 'follow', { term: 1, primary: peer('c2') }, 'follow');
    assert.equal(r.ok, true, r.reason);
    assert.equal(await upstreamPort('c3'), port.c2);
    await waitFor('the new primary row on c3', async () => (await rows('c3')).includes('on new primary'));
    const again = await act('c3', 'follow', { term: 1, primary: peer('c2') });
    assert.equal(again.ok, true, again.reason);
    assert.equal(again['changed'], false);
  });

  test('the old primary wakes up and takes writes after the split (it was not fenced yet; no standby follows it any more)', async () => {
    await signalAll('c1', 'SIGCONT');
    await sqlOnce(port.c1, "INSERT INTO t VALUES ('only on old primary')");
    assert.deepEqual(await rows('c1'), ['before split', 'only on old primary']);
  });

  test('fence stops the old primary and keeps it stopped', async () => {
    const r = await act('c1', 'fence', { term: 1 }, 'fence');
    assert.equal(r.ok, true, r.reason);
    assert.equal(await postmaster('c1'), null);
    await assert.rejects(sqlOnce(port.c1, 'SELECT 1', [], { timeoutMs: 1_000 }));
    const again = await act('c1', 'fence', { term: 1 });
    assert.equal(again.ok, true, again.reason);
    // Someone starts it by hand: the agent stops it again while the fence holds.
    // (pg_ctl start may itself report failure when the agent stops the server before it is ready.)
    await cluster!.start('c1');
    await waitFor('the fenced node stopped again', async () =>
      agents.c1!.lines.some((l) => l.msg === 'PostgreSQL found running while fenced: stopping it') && (await postmaster('c1')) === null,
    );
    const st = await act('c1', 'status', {});
    assert.equal(st['role'], 'stopped');
    assert.equal((st['fenced'] as { term: number } | null)?.term, 1);
  });

  test('follow refuses an old primary whose WAL went past the fork: rewind needed', async () => {
    const r = await act('c1', 'follow', { term: 1, primary: peer('c2') });
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'diverged: rewind needed');
  });

  test('rewind brings the diverged old primary back as a standby whose data equals the new primary', async () => {
    const r = await act('c1', 'rewind', { term: 1, source: peer('c2') }, 'rewind');
    assert.equal(r.ok, true, r.reason);
    assert.equal(r['method'], 'pg_rewind');
    assert.equal(await upstreamPort('c1'), port.c2);
    await sqlOnce(port.c2, "INSERT INTO t VALUES ('after rewind')");
    const expected = await rows('c2');
    await waitFor('c1 to match c2', async () => JSON.stringify(await rows('c1')) === JSON.stringify(expected));
    assert.ok(!(await rows('c1')).includes('only on old primary'));
    assert.equal((await act('c1', 'status', {}))['fenced'], null);
  });

  test('clone builds a new standby from a standby, and it streams', async () => {
    const r = await act('c4', 'clone', { term: 1, source: peer('c3') }, 'clone');
    assert.equal(r.ok, true, r.reason);
    assert.equal(await upstreamPort('c4'), port.c3);
    await sqlOnce(port.c2, "INSERT INTO t VALUES ('after clone')");
    await waitFor('the new row on the clone', async () => (await rows('c4')).includes('after clone'));
    const again = await act('c4', 'clone', { term: 1, source: peer('c3') });
    assert.equal(again.ok, true, again.reason);
    assert.equal(again['cloned'], false);
  });

  test('checkpoint, the step before a switchover\'s pause: the primary checkpoints (no archiving here: nothing to archive), a standby refuses', async () => {
    const [before] = await sqlOnce<{ lsn: string }>(port.c2, 'SELECT checkpoint_lsn::text AS lsn FROM pg_control_checkpoint()');
    await sqlOnce(port.c2, "INSERT INTO t VALUES ('before checkpoint')");
    const c = await act('c2', 'checkpoint', { term: 2 }, 'checkpoint');
    assert.equal(c.ok, true, c.reason);
    assert.equal(c.archivedMs, null);
    const [after] = await sqlOnce<{ lsn: string }>(port.c2, 'SELECT checkpoint_lsn::text AS lsn FROM pg_control_checkpoint()');
    assert.notEqual(after?.lsn, before?.lsn, 'a new checkpoint was written');
    const standby = await act('c3', 'checkpoint', { term: 2 });
    assert.equal(standby.ok, false);
    assert.match(standby.reason, /not a running primary/);
  });

  test('switchover: demote the primary, promote a standby past its shutdown checkpoint, the old primary follows without rewind', async () => {
    const d = await act('c2', 'demote', { term: 2 }, 'demote');
    assert.ok(d.ok, d.reason);
    const checkpointLsn = d.checkpointLsn;
    assert.match(checkpointLsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    const p = await act('c3', 'promote', { term: 2, minLsn: checkpointLsn }, 'promoteAfterDemote');
    assert.equal(p.ok, true, p.reason);
    const f = await act('c2', 'follow', { term: 2, primary: peer('c3') }, 'followAfterDemote');
    assert.equal(f.ok, true, f.reason);
    assert.equal(await upstreamPort('c2'), port.c3);
    await sqlOnce(port.c3, "INSERT INTO t VALUES ('after switchover')");
    await waitFor('the switchover row on c2', async () => (await rows('c2')).includes('after switchover'));
    assert.deepEqual((await readdir(workDir)).filter((f) => f.includes('.aside-')), []);
  });

  test('promote of a standby whose host lost power (PostgreSQL down, its agent up) starts it in recovery and promotes it; a fenced one stays stopped', async () => {
    // c2 streams from c3 since the switchover. Its host loses power; systemd brings back its agent first.
    const pm = (await postmaster('c2'))!;
    const pids = [pm, ...(await childrenOf(pm))];
    await signalAll('c2', 'SIGKILL');
    const gone = (pid: number) => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    };
    await waitFor("every process of c2's server to be gone, as after a power cut", () => pids.every(gone), 10_000);
    const p = await act('c2', 'promote', { term: 3 });
    assert.equal(p.ok, true, p.reason);
    assert.equal(p['promoted'], true);
    const [r] = await sqlOnce<{ recovery: boolean }>(port.c2, 'SELECT pg_is_in_recovery() AS recovery');
    assert.equal(r?.recovery, false);
    assert.ok((await rows('c2')).includes('after switchover'), 'it kept the WAL it had before the power cut');

    const fenced = await act('c4', 'fence', { term: 3 });
    assert.equal(fenced.ok, true, fenced.reason);
    const refused = await act('c4', 'promote', { term: 3 });
    assert.equal(refused.ok, false);
    assert.match(refused.reason, /fenced at term 3/);
    assert.equal((await act('c4', 'status', {}))['role'], 'stopped', 'a fenced node is never started by a promote');
  });

  test('start, with no primary in sight to follow: a standby whose host lost power starts in recovery as it was, keeping its WAL; a running one is left alone; a fenced one stays stopped', async () => {
    assert.equal((await act('c1', 'status', {}))['role'], 'standby');
    const before = await rows('c1');
    const pm = (await postmaster('c1'))!;
    const pids = [pm, ...(await childrenOf(pm))];
    await signalAll('c1', 'SIGKILL');
    await waitFor("every process of c1's server to be gone, as after a power cut", () => pids.every((pid) => !alive(pid)), 10_000);
    const started = await act('c1', 'start', { term: 3 }, 'start');
    assert.equal(started.ok, true, started.reason);
    assert.equal(started['started'], true);
    const [r] = await sqlOnce<{ recovery: boolean }>(port.c1, 'SELECT pg_is_in_recovery() AS recovery');
    assert.equal(r?.recovery, true, 'started as a standby, never a primary');
    // Every row it had (it may since have received more from its upstream, which it streams from again).
    const after = await rows('c1');
    assert.deepEqual(before.filter((v) => !after.includes(v)), [], 'it kept the WAL it had before the power cut');
    const again = await act('c1', 'start', { term: 3 });
    assert.equal(again.ok, true, again.reason);
    assert.equal(again['started'], false);

    const refused = await act('c4', 'start', { term: 3 });
    assert.equal(refused.ok, false);
    assert.match(refused.reason, /fenced at term 3/);
    assert.equal((await act('c4', 'status', {}))['role'], 'stopped', 'a fenced node is never started by a start');
  });
});
