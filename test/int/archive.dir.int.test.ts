import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { archivePush } from '../../lib/backup/archivePush.ts';
import { openArchive } from '../../lib/backup/archiveStore.ts';
import { listBackups } from '../../lib/backup/backupList.ts';

describe('the directory archive, as archive_command and the backup list use it', () => {
  let dir: string;
  let root: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgvigil-archive-'));
    root = join(dir, 'archive');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('archive-push stores a segment once; a retry of the same file succeeds; a different file under the name is refused', async () => {
    const seg = join(dir, '000000010000000000000003');
    await writeFile(seg, Buffer.alloc(4096, 1));
    const target = { kind: 'dir', path: root } as const;
    assert.deepEqual(await archivePush(target, seg, '000000010000000000000003'), { ok: true, existed: false });
    assert.deepEqual(await archivePush(target, seg, '000000010000000000000003'), { ok: true, existed: true });
    const other = join(dir, 'other');
    await writeFile(other, Buffer.alloc(100, 2));
    const refused = await archivePush(target, other, '000000010000000000000003');
    assert.equal(refused.ok, false);
    assert.match(refused.ok ? '' : refused.reason, /refusing to overwrite/);
    assert.deepEqual(await readdir(join(root, 'wal')), ['000000010000000000000003'], 'no temp file left behind');
    const notWal = await archivePush(target, seg, '../../escape');
    assert.equal(notWal.ok, false);
  });

  test('a backup without a manifest is listed as incomplete; a manifest that does not parse is named', async () => {
    const archive = await openArchive({ kind: 'dir', path: root });
    const tar = join(dir, 'base.tar.gz');
    await writeFile(tar, Buffer.alloc(2048));
    assert.equal((await archive.putFile('backups/20261124T000000Z-pg2/base.tar.gz', tar)).ok, true);
    assert.equal((await archive.putFile('backups/20261124T010000Z-pg3/base.tar.gz', tar)).ok, true);
    assert.equal((await archive.putText('backups/20261124T010000Z-pg3/manifest.json', '{"format":1}')).ok, true);
    const listed = await listBackups(archive);
    assert.ok(listed.ok);
    assert.deepEqual(
      listed.backups.map((b) => ({ id: b.id, complete: b.complete, bytes: b.bytes, problem: b.problem?.split(':')[0] ?? null })),
      [
        { id: '20261124T000000Z-pg2', complete: false, bytes: 2048, problem: null },
        { id: '20261124T010000Z-pg3', complete: false, bytes: 2048, problem: 'manifest' },
      ],
    );
  });
});
