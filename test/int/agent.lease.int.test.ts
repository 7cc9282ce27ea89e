import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { decide } from '../../lib/domain/decide.ts';
import { ClusterSpec } from '../../lib/domain/spec.ts';
import { commitDecision } from '../../lib/store/commitDecision.ts';
import { callAgent } from '../../lib/agent/agentClient.ts';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { startDynalite, type DynaliteServer } from '../../lib/local/dynaliteServer.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { readLeases } from '../../lib/store/leases.ts';
import { closeStore, createStore } from '../../lib/store/store.ts';
import { ensureTable } from '../../lib/store/table.ts';
import { startTestAgent, TEST_KEY, type TestAgent } from '../support/agentHarness.ts';
import { waitFor } from '../support/waitFor.ts';
import { signalServer } from '../support/signalServer.ts';
import { replicationToolEnv } from '../../lib/postgres/standbyConf.ts';
import { replicationAuthOf } from '../../lib/host/hostFiles.ts';
import { leaseTtlFor, standbyLeaseRenewEveryMs } from '../../lib/agent/lease.ts';

const BASE = 15540;
const AGENT_PORT = 15550;
const DYNALITE_PORT = 15590;
const TTL_MS = 1_500;
const RENEW_MS = 250;
const storeConfig = { table: 'pgvigil-lease-test', region: 'us-east-1', endpoint: `http://127.0.0.1:${DYNALITE_PORT}` };

describe('agent lease and self-fencing (real PostgreSQL, dynalite)', () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;
  let dynalite: DynaliteServer | undefined;
  let agent: TestAgent | undefined;
  let selfFenceMs: number | undefined;
  let receiver: ChildProcess | undefined;
  /** The agent of l1 (index 0, the primary) or l2 (index 1, its standby), with the store and the file's lease timing. */
  const startAgentOf = (index: 0 | 1) =>
    startTestAgent({
      cluster: 'lease',
      node: cluster!.nodes[index]!,
      bindir: cluster!.bindir,
      osUser: cluster!.osUser,
      agentPort: AGENT_PORT + index,
      workDir,
      extra: { store: storeConfig, lease: { ttlMs: TTL_MS, renewEveryMs: RENEW_MS } },
    });
  const startLeaseAgent = () => startAgentOf(0);
  const startStandbyAgent = () => startAgentOf(1);
  const streamingFromL1 = async () => (await sqlOnce<{ name: string }>(BASE, "SELECT application_name AS name FROM pg_stat_replication WHERE state = 'streaming'")).map((r) => r.name);

  const startStore = async () => {
    dynalite = await startDynalite({ path: join(workDir, 'dynalite'), port: DYNALITE_PORT });
  };
  const stopStore = async () => {
    await dynalite?.stop();
    dynalite = undefined;
  };
  const logged = (msg: string | RegExp) => agent!.lines.some((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg)));

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-c-lease-');
    // A long wal_sender_timeout: a silent standby's walsender stays listed here, as behind a partition.
    cluster = await createLocalCluster({ workDir, basePort: BASE, names: ['l1', 'l2'], replication: { mode: 'async', maximumLagOnFailover: 1 << 20 }, walReceiverTimeoutMs: 60_000 });
    await startStore();
    const store = createStore(storeConfig);
    const table = await ensureTable(store);
    if (!table.ok) throw new Error(table.reason);
    // The cluster's spec in the decision log: the agent learns its members (l2) from it.
    const spec = ClusterSpec.parse({ cluster: 'lease', nodes: cluster.specNodes(), replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    const init = await commitDecision(store, 'lease', (state) => decide({ type: 'initialize', now: Date.now(), spec, primary: 'l1' }, state));
    closeStore(store);
    if (!init.ok) throw new Error(init.reason);
    agent = await startLeaseAgent();
    // The agent learns the log's term (1) from a signed request, as from the control plane's
    // first: a promote refuses a term the log has moved past, and the cases below use the
    // agent's term (in its fence markers) for theirs.
    const first = await callAgent(agent.target, TEST_KEY, 'checkpoint', { term: 1 });
    if (!first.ok) throw new Error(first.reason);
    await sqlOnce(BASE, 'CREATE TABLE t (v int)');
  });
  after(async () => {
    receiver?.kill('SIGKILL');
    await agent?.close();
    await stopStore();
    await cluster?.stopAll();
    if (selfFenceMs !== undefined) console.log(`# self-fence: primary stopped ${selfFenceMs} ms after the store went away (TTL ${TTL_MS} ms, renew every ${RENEW_MS} ms)`);
    await rm(workDir, { recursive: true, force: true });
  });

  test('the agent holds and renews its lease in the store, and keeps the spec\'s members in its state directory', async () => {
    await waitFor('a renewed lease', () => (agent!.lease?.snapshot().version ?? 0) >= 2);
    await waitFor('the members learned', () => logged('cluster members learned'));
    const cached = JSON.parse(await readFile(join(workDir, 'agent-l1', 'members.json'), 'utf8')) as { members: string[] };
    assert.deepEqual(cached.members, ['l2']);
    const store = createStore(storeConfig);
    const leases = await readLeases(store, 'lease', ['l1']);
    closeStore(store);
    assert.ok(leases.ok);
    assert.equal(leases.leases[0]?.node, 'l1');
    assert.ok((leases.leases[0]?.version ?? 0) >= 2);
    // The lease names the members the agent counts at a lapse: the decider takes its witness among them.
    await waitFor('the lease naming l2 and the agent\'s TTL', async () => {
      const s = createStore(storeConfig);
      const read = await readLeases(s, 'lease', ['l1']);
      closeStore(s);
      return read.ok && JSON.stringify(read.leases[0]?.members) === '["l2"]' && read.leases[0]?.ttlMs === TTL_MS;
    });
  });

  test('a standby\'s agent renews as a standby: its lease says the longer TTL it stands by; the primary\'s says the TTL', async () => {
    // Standbys renew every 2 × TTL (a standby's lease only witnesses), so each such renewal
    // stands by TTL + (2 × TTL − renewEveryMs) and the decider waits that much longer on it.
    const standbyTtl = leaseTtlFor(TTL_MS, RENEW_MS, standbyLeaseRenewEveryMs(TTL_MS));
    const l2 = await startStandbyAgent();
    try {
      const leaseOf = async (node: string) => {
        const s = createStore(storeConfig);
        const read = await readLeases(s, 'lease', [node]);
        closeStore(s);
        return read.ok ? (read.leases[0] ?? null) : null;
      };
      await waitFor("l2's lease standing by the standby's TTL", async () => (await leaseOf('l2'))?.ttlMs === standbyTtl);
      const first = (await leaseOf('l2'))!.version;
      await waitFor("l2's lease renewed again as a standby's", async () => {
        const l = await leaseOf('l2');
        return l !== null && l.version > first && l.ttlMs === standbyTtl;
      }, 15_000);
      assert.equal((await leaseOf('l1'))?.ttlMs, TTL_MS, "the primary's lease stands by the TTL itself");
      assert.equal(l2.lease?.snapshot().ttlMs, standbyTtl);
    } finally {
      await l2.close();
    }
  });

  test('a promote of a term the log has moved past (a request run late) is refused, and the standby stays a standby', async () => {
    const l2 = await startStandbyAgent();
    try {
      // The log is at term 1 (initialized); this promote of term 0 is what a thawed host would run.
      const late = await callAgent(l2.target, TEST_KEY, 'promote', { term: 0 }, { timeoutMs: 30_000 });
      assert.equal(late.ok, false);
      assert.match(late.reason, /the log is at term 1, past 0: not promoted/);
      const [r] = await sqlOnce<{ recovery: boolean }>(cluster!.nodes[1]!.port, 'SELECT pg_is_in_recovery() AS recovery');
      assert.equal(r?.recovery, true, 'l2 was not promoted');
    } finally {
      await l2.close();
    }
  });

  test('a synchronous_standby_names set by hand is put back to the spec\'s value (async here: none)', async () => {
    const setting = async () => (await sqlOnce<{ v: string }>(BASE, "SELECT current_setting('synchronous_standby_names') AS v"))[0]?.v;
    await sqlOnce(BASE, "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (l2)'");
    await sqlOnce(BASE, 'SELECT pg_reload_conf()');
    await waitFor('the hand-made setting to be in force', async () => (await setting()) === 'ANY 1 (l2)');
    await waitFor('the agent to put the spec value back', async () => (await setting()) === '', 20_000);
    assert.ok(logged('synchronous_standby_names set to the spec value'));
  });

  test('store unreachable while every standby of the spec streams: the primary keeps accepting writes', async () => {
    await stopStore();
    await waitFor('the agent to notice the lapse and keep serving', () => logged(/^lease lapsed; keeping PostgreSQL serving because standbys stream from it: l2/), 10_000);
    await sqlOnce(BASE, 'INSERT INTO t VALUES (1)');
    assert.notEqual(await cluster!.postmasterPid('l1'), null);
    assert.equal((await callAgent(agent!.target, TEST_KEY, 'status', {}))['fenced'], null);
  });

  test('the agent restarted during the outage: it knows the members from its state directory and keeps serving', async () => {
    await agent!.close();
    agent = await startLeaseAgent();
    await waitFor('the restarted agent to notice the lapse and keep serving', () => logged(/^lease lapsed; keeping PostgreSQL serving because standbys stream from it: l2/), 10_000);
    assert.ok(!logged('self-fencing: stopping PostgreSQL'));
    await sqlOnce(BASE, 'INSERT INTO t VALUES (10)');
  });

  test('the store back: the lease is renewed again', async () => {
    await startStore();
    await waitFor('the lease renewed again', () => logged('lease renewed again'), 10_000);
    await sqlOnce(BASE, 'INSERT INTO t VALUES (2)');
  });

  test('store unreachable and l2 frozen, its walsender still listed here: the primary stops itself, though l2 looks streaming', async () => {
    await waitFor('l2 streaming from l1', async () => (await streamingFromL1()).includes('l2'));
    const stoppedBefore = agent!.lines.filter((l) => l.msg === 'self-fenced: PostgreSQL stopped').length;
    await signalServer(cluster!, 'l2', 'SIGSTOP');
    try {
      // What a control plane behind a partition could not tell apart: l1 still lists l2 as streaming.
      assert.ok((await streamingFromL1()).includes('l2'), "l2's walsender is still listed on l1");
      await stopStore();
      await waitFor('the primary to stop', async () => (await cluster!.postmasterPid('l1')) === null, 30_000);
      const line = await waitFor('the agent to log why', () => agent!.lines.filter((l) => l.msg === 'self-fenced: PostgreSQL stopped')[stoppedBefore], 10_000);
      assert.match(String(line['why']), /l2 of the spec's standbys \(l2\) does not stream from this primary \(or sent no reply within the TTL\)/);
    } finally {
      await signalServer(cluster!, 'l2', 'SIGCONT');
    }
    // Back as in the promote case below: the store returns, a promote of the same term restarts l1.
    const term = ((await callAgent(agent!.target, TEST_KEY, 'status', {}))['fenced'] as { term: number }).term;
    const renewals = agent!.lines.filter((l) => l.msg === 'lease renewed again').length;
    await startStore();
    await waitFor('the lease renewed again', () => agent!.lines.filter((l) => l.msg === 'lease renewed again').length > renewals, 10_000);
    const back = await callAgent(agent!.target, TEST_KEY, 'promote', { term });
    assert.equal(back.ok, true, back.reason);
    await waitFor('l2 streaming from l1 again', async () => (await streamingFromL1()).includes('l2'), 30_000);
  });

  test('store unreachable, the spec\'s standby gone and only a non-member walsender (pg_receivewal) streaming: the primary stops itself', async () => {
    assert.equal((await cluster!.stop('l2')).ok, true);
    await waitFor('l2 no longer streaming from l1', async () => !(await streamingFromL1()).includes('l2'));
    // A WAL archiver streaming from l1 is a physical walsender like a standby's, but no member of the spec.
    const walDir = join(workDir, 'receivewal');
    await mkdir(walDir, { recursive: true });
    const user = cluster!.osUser;
    if (user) await chown(walDir, user.uid, user.gid);
    receiver = spawn(join(cluster!.bindir, 'pg_receivewal'), ['-h', '127.0.0.1', '-p', String(BASE), '-U', 'replicator', '-D', walDir, '--no-loop'], {
      stdio: 'ignore',
      // It logs in as every replication client does: the replication role over TLS, its password from the passfile.
      env: { PATH: '/usr/bin:/bin', HOME: user?.home ?? '/tmp', ...replicationToolEnv(replicationAuthOf(cluster!.files)) },
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    await waitFor('pg_receivewal streaming from l1', async () => (await streamingFromL1()).includes('pg_receivewal'), 15_000);
    const cut = Date.now();
    await stopStore();
    await waitFor('the primary to stop', async () => (await cluster!.postmasterPid('l1')) === null, 30_000);
    selfFenceMs = Date.now() - cut;
    // The log line follows pg_ctl's return, which may come a moment after the postmaster is gone.
    const line = await waitFor('the agent to log why it stopped PostgreSQL', () => agent!.lines.find((l) => l.msg === 'self-fenced: PostgreSQL stopped'), 10_000);
    assert.match(String(line['why']), /l2 of the spec's standbys \(l2\) does not stream from this primary/);
    assert.ok(!logged(/^lease lapsed; keeping PostgreSQL serving because standbys stream from it: pg_receivewal/));
    receiver.kill('SIGKILL');
    const st = await callAgent(agent!.target, TEST_KEY, 'status', {});
    assert.equal(st['role'], 'stopped');
    assert.match((st['fenced'] as { why: string }).why, /^self-fenced/);
  });

  test('a promote of the same term brings back the primary that stopped itself; a fence by the control plane is never lifted so', async () => {
    const st = await callAgent(agent!.target, TEST_KEY, 'status', {});
    const term = (st['fenced'] as { term: number }).term;
    // The control plane asks again only while the agent renews its lease: the store is back.
    const renewals = () => agent!.lines.filter((l) => l.msg === 'lease renewed again').length;
    const before = renewals();
    await startStore();
    await waitFor('the lease renewed again', () => renewals() > before, 10_000);
    // Its lease reports the stop, so the decision log can record it (NodeSelfFenced).
    const leaseOfL1 = async () => {
      const store = createStore(storeConfig);
      try {
        const read = await readLeases(store, 'lease', ['l1']);
        assert.ok(read.ok, read.ok ? '' : read.reason);
        return read.leases[0]!;
      } finally {
        closeStore(store);
      }
    };
    const reported = await waitFor('the lease to report the self-fence', async () => (await leaseOfL1()).selfFenced ?? undefined, 10_000);
    assert.equal(reported.term, term);
    assert.match(reported.why, /^lease not renewed for \d+ ms .*does not stream from this primary/);
    assert.ok(!Number.isNaN(Date.parse(reported.at)), `its time: ${reported.at}`);
    const back = await callAgent(agent!.target, TEST_KEY, 'promote', { term });
    assert.equal(back.ok, true, back.reason);
    assert.match(back.reason, /restarted as primary of term/);
    const [row] = await sqlOnce<{ recovery: boolean }>(BASE, 'SELECT pg_is_in_recovery() AS recovery');
    assert.equal(row!.recovery, false);
    await sqlOnce(BASE, 'INSERT INTO t VALUES (3)');
    assert.equal((await callAgent(agent!.target, TEST_KEY, 'status', {}))['fenced'], null, 'the self-fence is lifted');
    // A cleared marker does not erase the stop: the lease keeps reporting the last one, which the decider records once.
    const stillReported = agent!.lease!.snapshot().version!;
    await waitFor('two more renewals', () => (agent!.lease!.snapshot().version ?? 0) >= stillReported + 2, 10_000);
    assert.deepEqual((await leaseOfL1()).selfFenced, reported);

    const fenced = await callAgent(agent!.target, TEST_KEY, 'fence', { term });
    assert.equal(fenced.ok, true, fenced.reason);
    const again = await callAgent(agent!.target, TEST_KEY, 'promote', { term });
    assert.equal(again.ok, false);
    assert.match(again.reason, /not running here \(fenced at term/);
    assert.equal(await cluster!.postmasterPid('l1'), null, 'the control plane\'s fence holds');
    // The control plane's own fence is in its log already: the lease reports only the agent's own stops.
    const renewed = agent!.lease!.snapshot().version!;
    await waitFor('two more renewals', () => (agent!.lease!.snapshot().version ?? 0) >= renewed + 2, 10_000);
    assert.deepEqual((await leaseOfL1()).selfFenced, reported);
  });
});
