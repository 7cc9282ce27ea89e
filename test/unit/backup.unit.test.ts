import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseArchiveUrl } from '../../lib/backup/archiveUrl.ts';
import { BackupId, backupIdFor, rowCountDifferences } from '../../lib/backup/backupManifest.ts';
import { pgTimestamp } from '../../lib/backup/restoreSteps.ts';
import { parseBackupPoints } from '../../lib/backup/takeBackup.ts';
import { isWalArchiveName, neededForRestore, walFileFor } from '../../lib/backup/walNames.ts';

describe('WAL file names', () => {
  test('given an LSN and a timeline, when naming its segment, then it is the 16 MB segment PostgreSQL names', () => {
    assert.equal(walFileFor(1, '0/2000028'), '000000010000000000000002');
    assert.equal(walFileFor(3, '1/FF000000'), '0000000300000001000000FF');
    assert.equal(walFileFor(2, '0/0'), '000000020000000000000000');
  });

  test('archive_command accepts segments, partials, history and backup-label files, nothing else', () => {
    for (const ok of ['000000010000000000000002', '000000010000000000000002.partial', '00000002.history', '000000010000000000000002.00000028.backup']) {
      assert.ok(isWalArchiveName(ok), ok);
    }
    for (const bad of ['../etc/passwd', 'archive_status', '00000001000000000000002', 'x00000010000000000000002', '']) assert.ok(!isWalArchiveName(bad), bad);
  });

  test('a restore needs every history file and the segments from the start on, of any timeline, never partials', () => {
    const names = [
      '000000010000000000000001',
      '000000010000000000000002',
      '000000010000000000000003',
      '000000010000000000000004.partial',
      '00000002.history',
      '000000020000000000000004',
      '000000020000000000000005',
    ];
    assert.deepEqual(neededForRestore(names, '000000010000000000000003'), [
      '000000010000000000000003',
      '00000002.history',
      '000000020000000000000004',
      '000000020000000000000005',
    ]);
  });

  test('property: every needed segment is at or after the start, and every later non-partial segment is needed', () => {
    const seg = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 255 }), fc.boolean());
    const name = ([tli, log, n, partial]: [number, number, number, boolean]) =>
      `${tli.toString(16).toUpperCase().padStart(8, '0')}${log.toString(16).toUpperCase().padStart(8, '0')}${n.toString(16).toUpperCase().padStart(8, '0')}${partial ? '.partial' : ''}`;
    fc.assert(
      fc.property(fc.array(seg, { maxLength: 30 }), seg, (segs, start) => {
        const names = segs.map(name);
        const startName = name([start[0], start[1], start[2], false]);
        const needed = new Set(neededForRestore(names, startName));
        for (const n of names) {
          const later = n.slice(8, 24) >= startName.slice(8, 24);
          assert.equal(needed.has(n), later && !n.endsWith('.partial'), n);
        }
      }),
    );
  });
});

describe('backup ids and row counts', () => {
  test('an id is the UTC start and the node, and parses back', () => {
    const id = backupIdFor(new Date('2026-11-24T03:15:07.123Z'), 'pg2');
    assert.equal(id, '20261124T031507Z-pg2');
    assert.ok(BackupId.safeParse(id).success);
    assert.match(BackupId.safeParse('yesterday').error?.issues[0]?.message ?? '', /give a backup id/);
  });

  test('matching counts have no difference; every kind of mismatch is named', () => {
    const want = { app: { 'public.a': 3, 'public.b': 0 } };
    assert.deepEqual(rowCountDifferences(want, { app: { 'public.a': 3, 'public.b': 0 } }), []);
    assert.deepEqual(rowCountDifferences(want, { app: { 'public.a': 2, 'public.c': 1 } }), [
      'app.public.a has 2 rows, expected 3',
      'app.public.b missing (expected 0 rows)',
      'app.public.c was not in the backup',
    ]);
  });
});

describe('pg_basebackup output and recovery targets', () => {
  test('start and end points are read from pg_basebackup -v', () => {
    const stderr = [
      'pg_basebackup: initiating base backup, waiting for checkpoint to complete',
      'pg_basebackup: checkpoint completed',
      'pg_basebackup: write-ahead log start point: 0/6000028 on timeline 2',
      'pg_basebackup: starting background WAL receiver',
      'pg_basebackup: write-ahead log end point: 0/6000100',
      'pg_basebackup: base backup completed',
    ].join('\n');
    assert.deepEqual(parseBackupPoints(stderr), { start: '0/6000028', stop: '0/6000100', timeline: 2 });
    assert.equal(parseBackupPoints('pg_basebackup: error: connection refused'), null);
  });

  test('a target time is written the way recovery_target_time accepts it', () => {
    assert.equal(pgTimestamp(new Date('2026-11-24T03:11:28.691Z')), '2026-11-24 03:11:28.691+00');
  });
});

describe('--archive', () => {
  test('a directory or an S3 URL; bad buckets are refused with the field named', () => {
    assert.deepEqual(parseArchiveUrl('/var/backups/pg'), { ok: true, target: { kind: 'dir', path: '/var/backups/pg' } });
    assert.deepEqual(parseArchiveUrl('s3://my-archive/main'), { ok: true, target: { kind: 's3', bucket: 'my-archive', prefix: 'main/' } });
    assert.deepEqual(parseArchiveUrl('s3://my-archive'), { ok: true, target: { kind: 's3', bucket: 'my-archive', prefix: '' } });
    const bad = parseArchiveUrl('s3://Bad_Bucket/');
    assert.equal(bad.ok, false);
    assert.match(bad.ok ? '' : bad.reason, /--archive s3:\/\/Bad_Bucket\/: bucket: give an S3 bucket name/);
  });
});
