import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ClusterStatus } from '../../lib/cli/clusterStatus.ts';
import { startLocalPipeline, type LocalPipeline } from '../../lib/local/localPipeline.ts';
import { isPostmasterOf, readPostmasterPid } from '../../lib/postgres/nodeFiles.ts';
import { watchBackups, type BackupSightings } from '../support/backupWatch.ts';
import { runCli, type CliResult } from '../support/cliRun.ts';
import { startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { sqlAt as sql } from '../support/sqlAt.ts';
import { silentLog } from '../../lib/log.ts';

const BASE = 17750;
const PG4 = BASE + 3;

describe('pgvigil grow: a new standby copied from a standby, registered, synchronous once caught up', () => {
  let p: TestPipeline;
  let grow: CliResult;
  let onPrimary: BackupSightings;
  let onSource: BackupSightings;
  before(async () => {
    // Probes get more time than the defaults: the copy and the CLI load the shared cores.
    p = await startTestPipeline(BASE, { timing: { probeIntervalMs: 300, probeTimeoutMs: 900 }, persistStore: true });
    // Enough data that the copy lasts a while: the sampler on the source must catch it.
    await sql(BASE, "CREATE TABLE ballast AS SELECT g, repeat('x', 500) AS pad FROM generate_series(1, 60000) g");
    await p.cluster.waitStreaming();
    const primaryWatch = await watchBackups(p.cluster.connectionString('pg1'));
    const sourceWatch = await watchBackups(p.cluster.connectionString('pg2'));
    grow = await runCli(['grow', '--workdir', p.workDir, '--from', 'pg2']);
    onPrimary = await primaryWatch.stop();
    onSource = await sourceWatch.stop();
  });
  let resumed: LocalPipeline | null = null;
  after(async () => {
    // Should the pipeline have failed to take charge of pg4, its server is still ours to stop.
    const dir = join(p?.workDir ?? '/nonexistent', 'pg4');
    const pid = await readPostmasterPid(dir);
    await resumed?.stop();
    await p?.dispose();
    if (pid !== null && isPostmasterOf(pid, dir)) process.kill(pid, 'SIGQUIT');
  });

  test('grow succeeds and says where the copy came from', () => {
    assert.equal(grow.code, 0, `pgvigil grow failed: ${grow.stderr}${grow.stdout}`);
    assert.match(grow.stdout, /pg4 added: copied from pg2/);
    assert.match(grow.stdout, /streaming from pg1/);
  });

  test('the primary served no base backup; the source standby did', () => {
    assert.ok(onPrimary.samples > 10, `the primary was sampled (${onPrimary.samples} samples)`);
    assert.equal(onPrimary.backupRows, 0, 'pg_stat_replication on the primary never showed a backup');
    assert.equal(onPrimary.basebackupSenders, 0, 'pg_stat_activity on the primary never showed a pg_basebackup walsender');
    assert.ok(onSource.backupRows + onSource.basebackupSenders > 0, `the sampler saw the backup on pg2 (${JSON.stringify(onSource)})`);
  });

  test('pg4 streams from the primary through its own slot', async () => {
    const [row] = await sql<{ recovery: boolean; status: string; port: number; slot: string | null }>(
      PG4,
      'SELECT pg_is_in_recovery() AS recovery, status, sender_port AS port, slot_name AS slot FROM pg_stat_wal_receiver',
    );
    assert.deepEqual(row, { recovery: true, status: 'streaming', port: BASE, slot: 'pg4' });
    await sql(BASE, 'CREATE TABLE after_grow AS SELECT 42 AS answer');
    await waitFor('pg4 to replay a write made after it joined', async () => (await sql(PG4, "SELECT to_regclass('after_grow') IS NOT NULL AS ok"))[0]!.ok === true);
  });

  test('the control plane registered pg4, probes it and status lists it as a standby', async () => {
    // The running pipeline learns of the CLI's append on its next decide run: wait for it, don't race it.
    await waitFor('NodeAdded pg4 in the decision log', () => p.events.some((e) => e.type === 'NodeAdded' && e.node.name === 'pg4' && e.node.port === PG4), 30_000);
    const status = await waitFor('status to list pg4 as a streaming standby', async () => {
      const r = await runCli(['status', '--workdir', p.workDir, '--json']);
      if (r.code !== 0) return false;
      const s = JSON.parse(r.stdout) as ClusterStatus;
      const row = s.nodes.find((n) => n.name === 'pg4');
      return row?.role === 'standby' ? s : false;
    }, 90_000);
    assert.deepEqual(status.nodes.map((n) => n.name), ['pg1', 'pg2', 'pg3', 'pg4']);
    assert.ok(p.agents.has('pg4'), 'the running pipeline took charge of pg4 (its agent)');
  });

  test('pg4 is in the synchronous quorum', async () => {
    const expected = 'ANY 1 (pg1, pg2, pg3, pg4)';
    for (const port of [BASE, BASE + 1, BASE + 2, PG4]) {
      const [row] = await sql<{ v: string }>(port, "SELECT current_setting('synchronous_standby_names') AS v");
      assert.equal(row!.v, expected, `synchronous_standby_names on port ${port}`);
    }
    await waitFor('the primary to report pg4 as a quorum standby', async () => {
      const rows = await sql<{ s: string }>(BASE, "SELECT sync_state AS s FROM pg_stat_replication WHERE application_name = 'pg4'");
      return rows[0]?.s === 'quorum';
    });
    await waitFor('SyncSetChanged to list pg4', () => p.events.some((e) => e.type === 'SyncSetChanged' && e.members.includes('pg4')), 30_000);
  });

  test('stopping the pipeline stops pg4; starting it again on the same work dir brings pg4 back as a streaming standby', async () => {
    const dir = join(p.workDir, 'pg4');
    const pid = await readPostmasterPid(dir);
    assert.ok(pid !== null && isPostmasterOf(pid, dir), 'pg4 runs before the stop');
    await p.stop();
    assert.ok(!isPostmasterOf(pid, dir), 'stopping the pipeline stopped pg4 too');
    resumed = await startLocalPipeline({ workDir: p.workDir, basePort: BASE, persistStore: true, log: silentLog });
    assert.ok(resumed.agents.has('pg4'), 'the resumed pipeline runs the agent of pg4');
    await waitFor('pg4 to stream from pg1 again', async () => {
      const rows = await sql<{ status: string; port: number }>(PG4, 'SELECT status, sender_port AS port FROM pg_stat_wal_receiver').catch(() => []);
      return rows[0]?.status === 'streaming' && rows[0].port === BASE;
    }, 60_000);
  });
});
