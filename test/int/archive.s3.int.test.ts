import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import type { ArchiveStore } from '../../lib/backup/archiveStore.ts';
import { listBackups } from '../../lib/backup/backupList.ts';
import { createS3Archive } from '../../lib/backup/s3Archive.ts';

/** The S3 archive over the S3 API, served by s3rver on 127.0.0.1 (as dynalite serves the DynamoDB API). */
describe('the S3 archive, over the S3 API (s3rver)', () => {
  let dir: string;
  let server: S3rver;
  let client: S3Client;
  let archive: ArchiveStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgvigil-s3-'));
    server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: join(dir, 'store') });
    const { port } = await server.run();
    client = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      // s3rver predates the SDK's default request checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await client.send(new CreateBucketCommand({ Bucket: 'archive' }));
    archive = createS3Archive({ kind: 's3', bucket: 'archive', prefix: 'main/' }, client);
  });
  after(async () => {
    client?.destroy();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a WAL file is stored once; the same file again is done; a different one under its name is refused', async () => {
    const seg = join(dir, 'seg');
    await writeFile(seg, Buffer.alloc(8192, 7));
    assert.deepEqual(await archive.putFile('wal/000000010000000000000001', seg, { ifAbsent: true }), { ok: true, existed: false });
    assert.deepEqual(await archive.putFile('wal/000000010000000000000001', seg, { ifAbsent: true }), { ok: true, existed: true });
    const other = join(dir, 'other');
    await writeFile(other, Buffer.alloc(10, 1));
    const refused = await archive.putFile('wal/000000010000000000000001', other, { ifAbsent: true });
    assert.equal(refused.ok, false);
    assert.match(refused.ok ? '' : refused.reason, /refusing to overwrite/);
    const back = join(dir, 'back');
    assert.deepEqual(await archive.getFile('wal/000000010000000000000001', back), { ok: true, found: true });
    assert.deepEqual(await readFile(back), Buffer.alloc(8192, 7), 'what comes back is what went in');
    assert.deepEqual(await archive.getFile('wal/000000010000000000000009', join(dir, 'none')), { ok: true, found: false });
  });

  test('backups are listed under the prefix, with their manifest state', async () => {
    const tar = join(dir, 'base.tar.gz');
    await writeFile(tar, Buffer.alloc(3000, 2));
    assert.ok((await archive.putFile('backups/20261124T010000Z-pg2/base.tar.gz', tar)).ok);
    assert.ok((await archive.putText('backups/20261124T010000Z-pg2/manifest.json', '{"format":1}')).ok);
    assert.deepEqual(await archive.getText('backups/20261124T010000Z-pg2/manifest.json'), { ok: true, text: '{"format":1}' });
    assert.deepEqual(await archive.getText('backups/nope/manifest.json'), { ok: true, text: null });
    const listed = await archive.list('backups/');
    assert.ok(listed.ok);
    assert.deepEqual(listed.objects.map((o) => o.key), ['backups/20261124T010000Z-pg2/base.tar.gz', 'backups/20261124T010000Z-pg2/manifest.json']);
    const backups = await listBackups(archive);
    assert.ok(backups.ok);
    assert.equal(backups.backups[0]?.bytes, 3000);
    assert.match(backups.backups[0]?.problem ?? '', /^manifest:/, 'a manifest that does not parse is named');
  });

  test('a missing bucket reads as an error naming where, not as an empty archive', async () => {
    const wrong = createS3Archive({ kind: 's3', bucket: 'no-such-bucket', prefix: '' }, client);
    const listed = await wrong.list('backups/');
    assert.equal(listed.ok, false);
    assert.match(listed.ok ? '' : listed.reason, /s3:\/\/no-such-bucket\//);
  });
});
