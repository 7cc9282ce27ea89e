import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findPgBinaries, parseMajor } from '../../lib/postgres/pgBinaries.ts';

// Fake bin directories: executable scripts that print a version, as `postgres --version` does.
let root: string;

async function fakeBindir(dir: string, version: string, tools = ['postgres', 'initdb', 'pg_ctl']): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const tool of tools) {
    const p = join(dir, tool);
    await writeFile(p, `#!/bin/sh\necho "${tool} (PostgreSQL) ${version} (fake)"\n`);
    await chmod(p, 0o755);
  }
  return dir;
}

describe('findPgBinaries', () => {
  before(async () => {
    root = await mkdtemp('/tmp/pgvigil-b-bins-');
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  // PATH holds only fake dirs (the scripts' #!/bin/sh needs no PATH), so the real pg_config is not found.
  const env = (extra: Record<string, string>) => ({ PATH: join(root, 'nobin'), ...extra });

  test('PG_BIN wins when it holds the binaries', async () => {
    const dir = await fakeBindir(join(root, 'pgbin16'), '16.2');
    await fakeBindir(join(root, 'inst1', '17', 'bin'), '17.0');
    const r = findPgBinaries(env({ PG_BIN: dir }), { installRoot: join(root, 'inst1') });
    assert.deepEqual(r, { ok: true, bindir: dir, major: 16 });
  });

  test('a PG_BIN without the binaries is reported, not skipped', async () => {
    const r = findPgBinaries(env({ PG_BIN: join(root, 'nowhere') }), { installRoot: join(root, 'empty') });
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, /PG_BIN=.*nowhere/);
  });

  test('versioned install dirs: highest major first', async () => {
    const inst = join(root, 'inst2');
    await fakeBindir(join(inst, '13', 'bin'), '13.9');
    await fakeBindir(join(inst, '15', 'bin'), '15.18');
    await fakeBindir(join(inst, '9', 'bin'), '9.6.24');
    const r = findPgBinaries(env({}), { installRoot: inst });
    assert.deepEqual(r, { ok: true, bindir: join(inst, '15', 'bin'), major: 15 });
  });

  test('too old a major is skipped in favour of one on PATH', async () => {
    const inst = join(root, 'inst3');
    await fakeBindir(join(inst, '12', 'bin'), '12.1');
    const onPath = await fakeBindir(join(root, 'onpath'), '14.3');
    const r = findPgBinaries({ PATH: `${join(root, 'nobin')}:${onPath}` }, { installRoot: inst });
    assert.deepEqual(r, { ok: true, bindir: onPath, major: 14 });
  });

  test('pg_config --bindir is used before the versioned dirs', async () => {
    const target = await fakeBindir(join(root, 'viaconfig'), '16.1');
    const cfgDir = join(root, 'cfg');
    await mkdir(cfgDir, { recursive: true });
    await writeFile(join(cfgDir, 'pg_config'), `#!/bin/sh\necho "${target}"\n`);
    await chmod(join(cfgDir, 'pg_config'), 0o755);
    const inst = join(root, 'inst4');
    await fakeBindir(join(inst, '17', 'bin'), '17.0');
    const r = findPgBinaries({ PATH: cfgDir }, { installRoot: inst });
    assert.deepEqual(r, { ok: true, bindir: target, major: 16 });
  });

  test('a directory missing pg_ctl does not count, and nothing found says what to install', async () => {
    const inst = join(root, 'inst5');
    await fakeBindir(join(inst, '15', 'bin'), '15.1', ['postgres', 'initdb']);
    const r = findPgBinaries(env({}), { installRoot: inst });
    assert.equal(r.ok, false);
    const reason = r.ok ? '' : r.reason;
    assert.match(reason, /apt-get install -y postgresql/);
    assert.match(reason, /PG_BIN/);
    assert.match(reason, /no executable pg_ctl/);
  });

  test('parseMajor reads old and new version strings', () => {
    assert.equal(parseMajor('postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)'), 15);
    assert.equal(parseMajor('postgres (PostgreSQL) 9.6.24'), 9);
    assert.equal(parseMajor('postgres (PostgreSQL) 17devel'), 17);
    assert.equal(parseMajor('not postgres'), null);
  });
});
