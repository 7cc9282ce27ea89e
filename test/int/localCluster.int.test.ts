import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { isAlive } from '../../lib/postgres/nodeFiles.ts';
import { parseClusterSpec } from '../../lib/domain/spec.ts';
import { waitFor } from '../support/waitFor.ts';

describe('local cluster (3 nodes, synchronous ANY 1)', () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-b-lc-');
    cluster = await createLocalCluster({ workDir, basePort: 15410, replication: { mode: 'synchronous', quorum: 1 } });
  });
  after(async () => {
    await cluster?.stopAll();
    await rm(workDir, { recursive: true, force: true });
  });

  test('the first node is the primary and both standbys stream from it as quorum candidates', async () => {
    const c = cluster!;
    assert.deepEqual(c.nodes.map((n) => [n.name, n.port]), [['pg1', 15410], ['pg2', 15411], ['pg3', 15412]]);
    const rows = await sqlOnce<{ application_name: string; state: string; sync_state: string }>(
      15410,
      'SELECT application_name, state, sync_state FROM pg_stat_replication ORDER BY application_name',
    );
    assert.deepEqual(rows, [
      { application_name: 'pg2', state: 'streaming', sync_state: 'quorum' },
      { application_name: 'pg3', state: 'streaming', sync_state: 'quorum' },
    ]);
    const slots = await sqlOnce<{ slot_name: string; active: boolean }>(15410, 'SELECT slot_name, active FROM pg_replication_slots ORDER BY slot_name');
    assert.deepEqual(slots, [{ slot_name: 'pg2', active: true }, { slot_name: 'pg3', active: true }]);
    for (const port of [15411, 15412]) {
      const [r] = await sqlOnce<{ recovery: boolean }>(port, 'SELECT pg_is_in_recovery() AS recovery');
      assert.equal(r?.recovery, true);
    }
  });

  test('a committed write on the primary is readable on both standbys', async () => {
    const c = cluster!;
    await sqlOnce(15410, 'CREATE TABLE IF NOT EXISTS t (v text)');
    await sqlOnce(15410, "INSERT INTO t VALUES ('hello')");
    for (const name of ['pg2', 'pg3']) {
      const port = c.nodes.find((n) => n.name === name)!.port;
      await waitFor(`the row on ${name}`, async () => {
        const rows = await sqlOnce<{ v: string }>(port, 'SELECT v FROM t');
        return rows.length === 1 ? rows : undefined;
      });
    }
  });

  test('servers run as the OS user, and the spec nodes form a valid cluster spec', async () => {
    const c = cluster!;
    if (c.osUser) {
      const st = await stat(c.nodes[0]!.dataDir);
      assert.equal(st.uid, c.osUser.uid);
    }
    const parsed = parseClusterSpec({ cluster: 'local', nodes: c.specNodes({ pg1: 18001 }) });
    assert.equal(parsed.ok, true, parsed.ok ? '' : parsed.reason);
    // The agent channel runs TLS with the cluster CA (issue 15), in local mode too.
    assert.equal(parsed.ok && parsed.value.nodes[0]!.agent, 'https://127.0.0.1:18001');
    assert.equal(c.connectionString('pg2'), 'postgresql://postgres@127.0.0.1:15411/postgres');
  });

  test('stop and start a standby: it streams again; stopping twice is fine', async () => {
    const c = cluster!;
    const pid = await c.postmasterPid('pg3');
    assert.ok(pid !== null && isAlive(pid));
    assert.deepEqual(await c.stop('pg3'), { ok: true });
    assert.deepEqual(await c.stop('pg3'), { ok: true });
    assert.equal(await c.postmasterPid('pg3'), null);
    assert.deepEqual(await c.start('pg3'), { ok: true });
    await c.waitStreaming();
  });

  test('stopAll leaves no server running and can be called again', async () => {
    const c = cluster!;
    const pids = await Promise.all(c.nodes.map((n) => c.postmasterPid(n.name)));
    assert.ok(pids.every((p) => p !== null));
    // A frozen postmaster must not stop stopAll.
    process.kill(pids[1]!, 'SIGSTOP');
    await c.stopAll();
    await c.stopAll();
    for (const p of pids) assert.equal(isAlive(p!), false, `postmaster ${p} still running`);
  });
});
