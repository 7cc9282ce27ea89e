import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { watchBackups, type BackupSightings } from '../support/backupWatch.ts';
import { runCli, type CliResult } from '../support/cliRun.ts';
import { startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { sqlAt as sql } from '../support/sqlAt.ts';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { findPgBinaries } from '../../lib/postgres/pgBinaries.ts';
import { ensurePgOsUser } from '../../lib/postgres/osUser.ts';
import { runPg } from '../../lib/postgres/pgCommand.ts';

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

  test('restore --into keeps the instance at the target: it starts with pg_ctl, holds the rows up to the moment, archives nothing and streams from no one', async () => {
    await sql(p.writerUrl, 'INSERT INTO pitr (id) VALUES (3)');
    const [{ t }] = (await sql<{ t: Date }>(p.writerUrl, 'SELECT clock_timestamp() AS t')) as [{ t: Date }];
    await sql(p.writerUrl, 'INSERT INTO pitr (id) VALUES (4)');
    await archiveUpToNow(p.writerUrl);
    const archived = async () => (await readdir(join(p.workDir, 'archive', 'wal'))).sort();
    const archivedBefore = await archived();
    const into = join(p.workDir, 'restored', 'pg-copy');

    const r = await runCli(['restore', backupId, '--into', into, '--target-time', t.toISOString(), '--workdir', p.workDir, '--json']);
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    const out = json<{ ok: boolean; into: string; port: number; logFile: string }>(r);
    assert.equal(out.into, into);
    const bins = findPgBinaries();
    assert.ok(bins.ok);
    const osUser = ensurePgOsUser();
    const conf = await readFile(join(into, 'postgresql.auto.conf'), 'utf8');
    assert.doesNotMatch(conf, /restore_command|recovery_target/, 'no recovery settings left');
    assert.equal(existsSync(join(into, 'recovery.signal')), false);

    const started = await runPg(bins.bindir, 'pg_ctl', ['start', '-w', '-t', '60', '-D', into, '-l', out.logFile], { osUser, timeoutMs: 70_000 });
    assert.equal(started.ok, true, `pg_ctl start: ${started.stderr}`);
    try {
      const url = `postgresql://postgres@127.0.0.1:${out.port}/postgres`;
      const ids = await sql<{ id: number }>(url, 'SELECT id FROM pitr ORDER BY id');
      assert.deepEqual(ids.map((x) => x.id), [1, 2, 3], 'the rows written before the target, not the one after');
      const [state] = await sql<{ recovery: boolean; archive: string; conninfo: string }>(url, "SELECT pg_is_in_recovery() AS recovery, current_setting('archive_mode') AS archive, current_setting('primary_conninfo') AS conninfo");
      assert.deepEqual(state, { recovery: false, archive: 'off', conninfo: '' });
      // It takes writes, and none of its WAL reaches the cluster's archive.
      await sql(url, 'INSERT INTO pitr (id) VALUES (100)');
      await sql(url, 'SELECT pg_switch_wal()');
      const [arch] = await sql<{ n: string }>(url, 'SELECT archived_count AS n FROM pg_stat_archiver');
      assert.equal(Number(arch!.n), 0);
    } finally {
      await runPg(bins.bindir, 'pg_ctl', ['stop', '-w', '-m', 'fast', '-D', into], { osUser, timeoutMs: 70_000 });
    }
    const live = await archived();
    assert.deepEqual(live.filter((f) => !archivedBefore.includes(f) && f.endsWith('.history')), [], 'no new timeline history in the cluster\'s archive');

    // The same directory again is refused, and left as it is.
    const again = await runCli(['restore', backupId, '--into', into, '--workdir', p.workDir]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /is not empty .*nothing was written/);
    assert.equal(existsSync(join(into, 'PG_VERSION')), true);
    const both = await runCli(['restore', backupId, '--verify', backupId, '--workdir', p.workDir]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /either --verify ID .* or ID --into DIR/);
    const noDir = await runCli(['restore', backupId, '--workdir', p.workDir]);
    assert.equal(noDir.code, 2);
    assert.match(noDir.stderr, /give --into DIR/);
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
