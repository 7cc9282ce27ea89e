import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { parseClusterSpec, type ClusterSpec } from '../../lib/domain/spec.ts';
import type { NodeObservation } from '../../lib/domain/observation.ts';
import { probeRound } from '../../lib/probe/probeRound.ts';
import { probeNode } from '../../lib/probe/probeNode.ts';
import type { ProbeContext } from '../../lib/probe/probeContext.ts';
import { waitFor } from '../support/waitFor.ts';
import { probeLoginFromFiles } from '../../lib/host/probeLoginFiles.ts';

function specOf(cluster: LocalCluster, name: string, replication: ClusterSpec['replication']): ClusterSpec {
  const parsed = parseClusterSpec({ cluster: name, nodes: cluster.specNodes(), replication });
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

const byNode = (obs: NodeObservation[]) => new Map(obs.map((o) => [o.node, o]));

describe('probe against real nodes', () => {
  let syncDir: string;
  let asyncDir: string;
  let sync: LocalCluster | undefined;
  let other: LocalCluster | undefined;
  let spec: ClusterSpec;
  let systemIdentifier: string;
  // The prober's clock: real time, so failingSince and at are plausible, read only through ctx.now.
  const ctx = (previous: NodeObservation[] = [], extra: Partial<ProbeContext> = {}): ProbeContext => ({
    prober: 'test-prober',
    now: () => Date.now(),
    previous: byNode(previous),
    systemIdentifier,
    ...extra,
  });

  before(async () => {
    syncDir = await mkdtemp('/tmp/pgvigil-b-probe-sync-');
    asyncDir = await mkdtemp('/tmp/pgvigil-b-probe-async-');
    [sync, other] = await Promise.all([
      createLocalCluster({ workDir: syncDir, basePort: 15430, replication: { mode: 'synchronous', quorum: 1 } }),
      createLocalCluster({ workDir: asyncDir, basePort: 15440, names: ['pg1', 'pg2'], replication: { mode: 'async', maximumLagOnFailover: 0 } }),
    ]);
    spec = specOf(sync, 'probe-sync', { mode: 'synchronous', quorum: 1 });
    const [row] = await sqlOnce<{ id: string }>(15430, 'SELECT system_identifier::text AS id FROM pg_control_system()');
    systemIdentifier = row!.id;
  });
  after(async () => {
    await Promise.all([sync?.stopAll(), other?.stopAll()]);
    await Promise.all([rm(syncDir, { recursive: true, force: true }), rm(asyncDir, { recursive: true, force: true })]);
  });

  test('a synchronous cluster: one primary, two quorum standbys streaming from it with small lag', async () => {
    await sqlOnce(15430, 'CREATE TABLE IF NOT EXISTS probe_t AS SELECT g FROM generate_series(1, 1000) g');
    // Until a standby replays its first commit its lag in seconds is unknown (null, by design):
    // a probe between the table's arrival and its replay would rightly say so.
    const lsn = (await sqlOnce<{ lsn: string }>(15430, 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn;
    for (const port of [15431, 15432]) {
      await waitFor(`the standby on ${port} to replay ${lsn}`, async () => {
        const [r] = await sqlOnce<{ done: boolean }>(port, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS done`);
        return r!.done;
      });
    }
    const obs = byNode(await probeRound(spec, ctx()));
    const pg1 = obs.get('pg1')!;
    assert.equal(pg1.reachable, true);
    assert.equal(pg1.role, 'primary');
    assert.equal(pg1.cluster, 'probe-sync');
    assert.equal(pg1.systemIdentifier, systemIdentifier);
    assert.equal(pg1.foreign, false);
    assert.equal(pg1.timeline, 1);
    assert.ok(pg1.walLsn);
    assert.equal(pg1.lastKnownWalLsn, pg1.walLsn);
    assert.equal(pg1.lastKnownWalAt, pg1.at, 'the last LSN is stamped with the round that saw it');
    assert.equal(pg1.synchronousStandbyNames, 'ANY 1 (pg1, pg2, pg3)');
    assert.deepEqual(
      pg1.replication.map((r) => [r.name, r.state, r.syncState]),
      [['pg2', 'streaming', 'quorum'], ['pg3', 'streaming', 'quorum']],
    );
    for (const name of ['pg2', 'pg3']) {
      const s = obs.get(name)!;
      assert.equal(s.role, 'standby', name);
      assert.equal(s.walReceiver?.status, 'streaming', name);
      assert.equal(s.walReceiver?.upstream, 'pg1', name);
      assert.equal(s.walReceiver?.senderPort, 15430, name);
      assert.equal(typeof s.walReceiver?.lastMsgReceiptAt, 'number', name);
      assert.equal(s.timeline, 1, name);
      assert.equal(s.systemIdentifier, systemIdentifier, name);
      assert.ok(s.replayLsn && s.receiveLsn, name);
      assert.equal(s.walLsn, null, name);
      assert.ok(s.lagBytes !== null && s.lagBytes < 1024 * 1024, `${name} lag ${s.lagBytes}`);
      assert.ok(s.lagSeconds !== null && s.lagSeconds >= 0, name);
    }
  });

  test('failure counts start at 0, and a lease keeps its first-seen time until its version changes, carrying the members and TTL its agent wrote', async () => {
    let clock = 1_000_000;
    const leases = new Map([['pg1', { version: 3, term: 1, members: ['pg2'], ttlMs: 3_000 }]]);
    const round = (prev: NodeObservation[]) => probeRound(spec, ctx(prev, { now: () => clock, leases }));
    const r1 = await round([]);
    clock += 250;
    const r2 = await round(r1);
    leases.set('pg1', { version: 4, term: 1, members: ['pg2'], ttlMs: 3_000 });
    clock += 250;
    const r3 = await round(r2);
    // The members and TTL the agent wrote ride along: the decider's lease proof needs both.
    const seen = { term: 1, members: ['pg2'], ttlMs: 3_000 };
    assert.deepEqual(byNode(r1).get('pg1')!.lease, { version: 3, changedSeenAt: 1_000_000, ...seen });
    assert.deepEqual(byNode(r2).get('pg1')!.lease, { version: 3, changedSeenAt: 1_000_000, ...seen });
    assert.deepEqual(byNode(r3).get('pg1')!.lease, { version: 4, changedSeenAt: 1_000_500, ...seen });
    assert.equal(byNode(r3).get('pg2')!.lease, null);
    assert.equal(byNode(r3).get('pg2')!.at, 1_000_500);
    assert.ok(r3.every((o) => o.consecutiveFailures === 0 && o.failingSince === null && o.error === null));
  });

  test('an async cluster reports async standbys and no synchronous names', async () => {
    const asyncSpec = specOf(other!, 'probe-async', { mode: 'async', maximumLagOnFailover: 0 });
    const obs = byNode(await probeRound(asyncSpec, ctx([], { systemIdentifier: null })));
    assert.equal(obs.get('pg1')!.synchronousStandbyNames, '');
    assert.deepEqual(obs.get('pg1')!.replication.map((r) => [r.name, r.syncState]), [['pg2', 'async']]);
    assert.equal(obs.get('pg2')!.walReceiver?.upstream, 'pg1');
  });

  test('a node from another cluster is reported foreign', async () => {
    const stranger = { ...spec.nodes[0]!, name: 'stranger', port: 15440 };
    const o = await probeNode(stranger, { ...ctx(), cluster: 'probe-sync', nodes: spec.nodes, timeoutMs: 1000 });
    assert.equal(o.reachable, true);
    assert.equal(o.role, 'primary');
    assert.equal(o.foreign, true);
    assert.notEqual(o.systemIdentifier, systemIdentifier);
    assert.equal(o.lastKnownWalLsn, null, "a foreign node's WAL position is not this cluster's");
  });

  test('a login the node rejects is reported as auth, not as a dead node', async () => {
    const o = await probeNode(spec.nodes[0]!, { ...ctx([], { user: 'no_such_role' }), cluster: 'probe-sync', timeoutMs: 1000 });
    assert.equal(o.reachable, false);
    assert.equal(o.error?.kind, 'auth');
    assert.equal(o.consecutiveFailures, 1);
  });

  test('a frozen (SIGSTOP) node times out within its deadline and does not stall the round', async () => {
    const pid = await sync!.postmasterPid('pg3');
    assert.ok(pid);
    process.kill(pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const obs = byNode(await probeRound(spec, ctx()));
      const elapsed = Date.now() - started;
      const pg3 = obs.get('pg3')!;
      assert.equal(pg3.reachable, false);
      assert.equal(pg3.error?.kind, 'timeout');
      assert.equal(pg3.role, 'unknown');
      assert.equal(obs.get('pg1')!.reachable, true);
      // The round returned while pg3 was still frozen (a stalled round would never return and the
      // test would time out); how long it took is a figure, not an assertion.
      console.log(`# a round with one frozen node took ${elapsed} ms (probe timeout ${spec.timing.probeTimeoutMs} ms)`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  test('a stopped node is refused, its failures count up across rounds, and it recovers', async () => {
    assert.deepEqual(await sync!.stop('pg3'), { ok: true });
    const r1 = await probeRound(spec, ctx());
    const r2 = await probeRound(spec, ctx(r1));
    const a = byNode(r1).get('pg3')!;
    const b = byNode(r2).get('pg3')!;
    assert.equal(a.error?.kind, 'refused');
    assert.equal(a.consecutiveFailures, 1);
    assert.equal(b.consecutiveFailures, 2);
    assert.equal(a.failingSince, a.at);
    assert.equal(b.failingSince, a.failingSince);
    // The primary notices the missing standby once its walsender is gone.
    const r3 = await waitFor('pg3 gone from pg_stat_replication', async () => {
      const r = await probeRound(spec, ctx(r2));
      return byNode(r).get('pg1')!.replication.some((x) => x.name === 'pg3') ? undefined : r;
    });
    assert.ok(byNode(r3).get('pg3')!.consecutiveFailures >= 3);

    assert.deepEqual(await sync!.start('pg3'), { ok: true });
    await sync!.waitStreaming();
    const back = byNode(await probeRound(spec, ctx(r3))).get('pg3')!;
    assert.equal(back.reachable, true);
    assert.equal(back.consecutiveFailures, 0);
    assert.equal(back.failingSince, null);
    assert.equal(back.walReceiver?.upstream, 'pg1');
  });
});

describe("probe: a standby's timeline once its new upstream is gone", () => {
  let dir: string;
  let c: LocalCluster | undefined;
  before(async () => {
    dir = await mkdtemp('/tmp/pgvigil-b-probe-tli-');
    c = await createLocalCluster({ workDir: dir, basePort: 15450, replication: { mode: 'async', maximumLagOnFailover: 0 } });
  });
  after(async () => {
    await c?.stopAll();
    await rm(dir, { recursive: true, force: true });
  });

  test("a standby that streamed the promoted node's timeline reads it with no earlier round to lean on, as the monitoring role", async () => {
    const spec = specOf(c!, 'probe-tli', { mode: 'async', maximumLagOnFailover: 0 });
    // pg1 stops cleanly first: both standbys then hold the same WAL, up to its shutdown
    // checkpoint, so pg3 can follow pg2 (nothing of pg1's past pg2's switch point).
    assert.deepEqual(await c!.stop('pg1', 'fast'), { ok: true });
    await sqlOnce(15451, 'SELECT pg_promote(true, 30)');
    await sqlOnce(15451, "SELECT pg_create_physical_replication_slot('pg3')");
    const conninfo = (await sqlOnce<{ v: string }>(15452, "SELECT current_setting('primary_conninfo') AS v"))[0]!.v;
    assert.match(conninfo, /port=15450/);
    await sqlOnce(15452, `ALTER SYSTEM SET primary_conninfo = '${conninfo.replace('port=15450', 'port=15451').replaceAll("'", "''")}'`);
    await sqlOnce(15452, 'SELECT pg_reload_conf()');
    await sqlOnce(15451, 'CREATE TABLE after_promotion AS SELECT 1 AS x');
    await waitFor('pg3 to stream timeline 2 from pg2', async () => {
      const [r] = await sqlOnce<{ tli: number | null; port: number | null }>(15452, 'SELECT received_tli AS tli, sender_port AS port FROM pg_stat_wal_receiver');
      return r?.tli === 2 && r.port === 15451;
    });
    assert.deepEqual(await c!.stop('pg2', 'immediate'), { ok: true });
    // Its receiver gone, the control file names timeline 1 until a restartpoint after the switch:
    // all the probe had to read before it looked at the WAL files themselves.
    const obs = await probeNode(spec.nodes.find((n) => n.name === 'pg3')!, {
      cluster: 'probe-tli',
      prober: 'test-prober',
      now: () => Date.now(),
      previous: new Map(),
      nodes: spec.nodes,
      timeoutMs: 2_000,
      // As the probe logs in on AWS: pgvigil_monitor (pg_monitor and nothing else) over TLS.
      ...(await probeLoginFromFiles(c!.files)),
    });
    assert.equal(obs.reachable, true, JSON.stringify(obs.error));
    assert.equal(obs.role, 'standby');
    assert.equal(obs.walReceiver?.status === 'streaming' && obs.walReceiver.upstream === 'pg2', false, 'no receiver streams from the stopped pg2');
    assert.equal(obs.timeline, 2, "its WAL past pg2's switch point is on timeline 2: a candidate if pg2 fails, not refused as behind");
  });
});
