import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readDecisions } from '../../lib/store/decisionLog.ts';
import { watchBackups, type BackupSightings } from '../support/backupWatch.ts';
import { runCli, type CliResult } from '../support/cliRun.ts';
import { startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { sqlAt as sql } from '../support/sqlAt.ts';

const BASE = 17725;
const CLONE_PORT = BASE + 5;

describe('pgvigil clone: a writable development copy from a standby, outside the cluster', () => {
  let p: TestPipeline;
  let clone: CliResult;
  let onPrimary: BackupSightings;
  let onSource: BackupSightings;
  let url: string;
  before(async () => {
    p = await startTestPipeline(BASE, { timing: { probeIntervalMs: 300, probeTimeoutMs: 900 } });
    await sql(p.writerUrl, "CREATE TABLE orders AS SELECT g AS id, repeat('x', 500) AS pad FROM generate_series(1, 60000) g");
    await p.cluster.waitStreaming();
    const primaryWatch = await watchBackups(p.cluster.connectionString('pg1'));
    const sourceWatch = await watchBackups(p.cluster.connectionString('pg3'));
    clone = await runCli(['clone', '--name', 'scratch', '--workdir', p.workDir, '--from', 'pg3', '--port', String(CLONE_PORT)]);
    onPrimary = await primaryWatch.stop();
    onSource = await sourceWatch.stop();
    url = clone.stdout.trim().split('\n').at(-1) ?? '';
  });
  after(async () => {
    if (p) await runCli(['clone', '--name', 'scratch', '--workdir', p.workDir, '--drop']);
    await p?.dispose();
  });

  test('clone prints the connection string of a promoted copy holding the data', async () => {
    assert.equal(clone.code, 0, `pgvigil clone failed: ${clone.stderr}${clone.stdout}`);
    assert.equal(url, `postgresql://postgres@127.0.0.1:${CLONE_PORT}/postgres`);
    const [row] = await sql<{ recovery: boolean; n: string; name: string }>(
      url,
      "SELECT pg_is_in_recovery() AS recovery, (SELECT count(*) FROM orders)::text AS n, current_setting('cluster_name') AS name",
    );
    assert.deepEqual(row, { recovery: false, n: '60000', name: 'scratch' });
  });

  test('the clone accepts writes, and they stay in the clone', async () => {
    await sql(url, "INSERT INTO orders (id, pad) VALUES (-1, 'dev')");
    const [mine] = await sql<{ n: string }>(url, 'SELECT count(*)::text AS n FROM orders WHERE id = -1');
    assert.equal(mine!.n, '1');
    const [theirs] = await sql<{ n: string }>(p.writerUrl, 'SELECT count(*)::text AS n FROM orders WHERE id = -1');
    assert.equal(theirs!.n, '0', 'the cluster never sees the clone\'s writes');
  });

  test('the primary served no base backup; the source standby did', () => {
    assert.ok(onPrimary.samples > 10, `the primary was sampled (${onPrimary.samples} samples)`);
    assert.equal(onPrimary.backupRows, 0, 'pg_stat_replication on the primary never showed a backup');
    assert.equal(onPrimary.basebackupSenders, 0, 'pg_stat_activity on the primary never showed a pg_basebackup walsender');
    assert.ok(onSource.backupRows + onSource.basebackupSenders > 0, `the sampler saw the backup on pg3 (${JSON.stringify(onSource)})`);
  });

  test('the cluster knows nothing of it: no decision mentions it, it is not a node, not behind an endpoint', async () => {
    const log = await readDecisions(p.store, 'local');
    if (!log.ok) throw new Error(log.reason);
    const text = JSON.stringify(log.items);
    assert.ok(!text.includes('scratch'), 'no decision names the clone');
    assert.ok(!text.includes(String(CLONE_PORT)), 'no decision names its port');
    const state = await p.state();
    assert.ok(state && !state.spec!.nodes.some((n) => n.port === CLONE_PORT || n.name === 'scratch'), 'it is not a node of the spec');
    for (let i = 0; i < 6; i++) {
      const [r] = await sql<{ port: number }>(p.readerUrl, 'SELECT inet_server_port() AS port');
      assert.notEqual(r!.port, CLONE_PORT, 'the reader endpoint never serves the clone');
    }
    const [w] = await sql<{ port: number }>(p.writerUrl, 'SELECT inet_server_port() AS port');
    assert.equal(w!.port, BASE, 'the writer is still pg1');
  });

  test('--drop stops the clone and removes its data', async () => {
    const dropped = await runCli(['clone', '--name', 'scratch', '--workdir', p.workDir, '--drop']);
    assert.equal(dropped.code, 0, dropped.stderr);
    assert.ok(!existsSync(join(p.workDir, 'clones', 'scratch')), 'the data dir is gone');
    await assert.rejects(sql(url, 'SELECT 1'), 'nothing answers on the clone\'s port');
  });
});
