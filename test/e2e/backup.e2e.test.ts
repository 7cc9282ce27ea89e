import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { watchBackups, type BackupSightings } from '../support/backupWatch.ts';
import { runCli, type CliResult } from '../support/cliRun.ts';
import { startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { sqlAt as sql } from '../support/sqlAt.ts';

const BASE = 18200;

function json<T>(r: CliResult): T {
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}${r.stderr}`);
  }
}

type Listed = { backups: { id: string; node: string; complete: boolean; verification: { ok: boolean; target: string } | null }[] };
type Verified = { ok: boolean; reason?: string; verification?: { ok: boolean; reason: string; rowCounts: Record<string, Record<string, number>> } };

/** The primary's WAL up to now is in the archive: switch segments and wait for the archiver. */
async function archiveUpToNow(url: string): Promise<void> {
  const [sw] = await sql<{ file: string }>(url, 'SELECT pg_walfile_name(pg_switch_wal()) AS file');
  await waitFor(`the archiver to archive ${sw!.file}`, async () => {
    const [a] = await sql<{ last: string | null }>(url, 'SELECT last_archived_wal AS last FROM pg_stat_archiver');
    return a!.last !== null && a!.last >= sw!.file;
  }, 30_000);
}

describe('backups without a time window: from a standby, WAL archived from the primary, verified by restoring', () => {
  let p: TestPipeline;
  let taken: CliResult;
  let onPrimary: BackupSightings;
  let backupId = '';
  before(async () => {
    p = await startTestPipeline(BASE, { timing: { probeIntervalMs: 300, probeTimeoutMs: 900 } });
    await sql(p.writerUrl, "CREATE TABLE orders AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 20000) g");
    await sql(p.writerUrl, 'CREATE TABLE events (id int PRIMARY KEY, what text)');
    await sql(p.writerUrl, "INSERT INTO events SELECT g, 'e' || g FROM generate_series(1, 321) g");
    await p.cluster.waitStreaming();
    const primaryWatch = await watchBackups(p.cluster.connectionString('pg1'));
    taken = await runCli(['backup', '--workdir', p.workDir, '--json']);
    onPrimary = await primaryWatch.stop();
    if (taken.code === 0) backupId = json<{ id: string }>(taken).id;
  });
  after(async () => {
    await p?.dispose();
  });

  test('pgvigil backup takes it from a standby; the primary serves no base backup', () => {
    assert.equal(taken.code, 0, `pgvigil backup failed: ${taken.stderr}${taken.stdout}`);
    const out = json<{ ok: boolean; node: string; bytes: number }>(taken);
    assert.equal(out.ok, true);
    assert.notEqual(out.node, 'pg1', 'not from the primary');
    assert.ok(out.bytes > 0);
    assert.ok(onPrimary.samples > 10, `the primary was sampled (${onPrimary.samples})`);
    assert.equal(onPrimary.backupRows + onPrimary.basebackupSenders, 0, 'the primary served no base backup');
  });

  test('pgvigil backups shows it as not verified; restore --verify restores it, the row counts match, and the list says so', async () => {
    const before = json<Listed>(await runCli(['backups', '--workdir', p.workDir, '--json']));
    const entry = before.backups.find((b) => b.id === backupId);
    assert.ok(entry, `listed: ${JSON.stringify(before)}`);
    assert.equal(entry.complete, true);
    assert.equal(entry.verification, null, 'not verified yet');
    const table = await runCli(['backups', '--workdir', p.workDir]);
    assert.match(table.stdout, new RegExp(`${backupId}.*not verified`));

    // Nothing written since: the backup's WAL ends where the backup does (the hard case for recovery_target 'immediate').
    const verified = await runCli(['restore', '--verify', backupId, '--workdir', p.workDir, '--json']);
    assert.equal(verified.code, 0, `${verified.stderr}${verified.stdout}`);
    const v = json<Verified>(verified);
    assert.equal(v.verification?.ok, true, v.verification?.reason);
    assert.equal(v.verification?.rowCounts['postgres']?.['public.events'], 321);
    assert.equal(v.verification?.rowCounts['postgres']?.['public.orders'], 20000);

    const afterList = json<Listed>(await runCli(['backups', '--workdir', p.workDir, '--json']));
    assert.equal(afterList.backups.find((b) => b.id === backupId)?.verification?.ok, true);
    const shown = await runCli(['backups', '--workdir', p.workDir]);
    assert.match(shown.stdout, new RegExp(`${backupId}.* ok `));
  });

  test('point-in-time restore to a moment between two writes keeps the first and not the second', async () => {
    await sql(p.writerUrl, 'CREATE TABLE pitr (id int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())');
    await sql(p.writerUrl, 'INSERT INTO pitr (id) VALUES (1)');
    // The primary's own clock after the first commit and before the second: recovery compares commit times with it.
    const [{ t }] = (await sql<{ t: Date }>(p.writerUrl, 'SELECT clock_timestamp() AS t')) as [{ t: Date }];
    await sql(p.writerUrl, 'INSERT INTO pitr (id) VALUES (2)');
    await archiveUpToNow(p.writerUrl);

    const r = await runCli(['restore', '--verify', backupId, '--target-time', t.toISOString(), '--workdir', p.workDir, '--json']);
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    const v = json<Verified>(r);
    assert.equal(v.verification?.ok, true, v.verification?.reason);
    assert.equal(v.verification?.rowCounts['postgres']?.['public.pitr'], 1, 'the row written before the target, not the one after');
  });

  test('with WAL archived past it, a restore to the backup end still stops there: later writes do not show', async () => {
    await sql(p.writerUrl, "INSERT INTO events VALUES (1000, 'after the backup')");
    await archiveUpToNow(p.writerUrl);
    const r = await runCli(['restore', '--verify', backupId, '--workdir', p.workDir, '--json']);
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    const v = json<Verified>(r);
    assert.equal(v.verification?.ok, true, v.verification?.reason);
    assert.equal(v.verification?.rowCounts['postgres']?.['public.events'], 321);
    assert.equal(v.verification?.rowCounts['postgres']?.['public.pitr'], undefined, 'a table created after the backup is not there');
  });

  test('bad input changes nothing and says what to do', async () => {
    const bad = await runCli(['restore', '--verify', 'yesterday', '--workdir', p.workDir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--verify yesterday: give a backup id/);
    const missing = await runCli(['restore', '--verify', '20000101T000000Z-pg9', '--workdir', p.workDir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no backup 20000101T000000Z-pg9/);
    const primary = await runCli(['backup', '--from', 'pg1', '--workdir', p.workDir]);
    assert.equal(primary.code, 1);
    assert.match(primary.stderr, /primary/);
    const every = await runCli(['backup', '--every', '5s', '--workdir', p.workDir]);
    assert.equal(every.code, 2);
    assert.match(every.stderr, /--every "5s"/);
  });
});
