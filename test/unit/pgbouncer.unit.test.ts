import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseClusterSpec, PgBouncerSpec } from '../../lib/domain/spec.ts';
import { databasesFileText, termOfDatabasesFile } from '../../lib/endpoints/pgbouncer.ts';
import { consoleName } from '../../lib/endpoints/pgbouncerConsole.ts';

const nodes = [{ name: 'pg1', host: '127.0.0.1', port: 5432, agent: 'http://127.0.0.1:8008' }];
const instance = { admin: 'postgresql://pgvigil@10.0.1.9:6432/pgbouncer', databasesFile: '/etc/pgbouncer/pgvigil-databases.ini' };

describe('the spec’s pgbouncer part', () => {
  test('optional; defaults for the bounds', () => {
    const none = parseClusterSpec({ cluster: 'c', nodes });
    assert.ok(none.ok && none.value.pgbouncer === undefined);
    const some = parseClusterSpec({ cluster: 'c', nodes, pgbouncer: { instances: [instance], databases: [{ name: 'app' }] } });
    assert.ok(some.ok, some.ok ? '' : some.reason);
    assert.deepEqual(some.value.pgbouncer, { instances: [instance], databases: [{ name: 'app' }], pauseTimeoutMs: 10_000, commandTimeoutMs: 3_000, holdMs: 30_000 });
  });

  test('refuses a password in the admin URL (the spec is recorded in the decision log), naming the way out', () => {
    const r = parseClusterSpec({ cluster: 'c', nodes, pgbouncer: { instances: [{ ...instance, admin: 'postgresql://pgvigil:s3cret@10.0.1.9:6432/pgbouncer' }], databases: [{ name: 'app' }] } });
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /pgbouncer\.instances\.0\.admin: no password here .*passwordEnv/);
    assert.doesNotMatch(!r.ok ? r.reason : '', /s3cret/);
  });

  test('refuses an admin URL that is not the console, a relative file, a database name that would need quoting', () => {
    assert.equal(PgBouncerSpec.safeParse({ instances: [{ ...instance, admin: 'postgresql://pgvigil@10.0.1.9:6432/app' }], databases: [{ name: 'app' }] }).success, false);
    assert.equal(PgBouncerSpec.safeParse({ instances: [{ ...instance, databasesFile: 'databases.ini' }], databases: [{ name: 'app' }] }).success, false);
    assert.equal(PgBouncerSpec.safeParse({ instances: [instance], databases: [{ name: 'app = host=evil' }] }).success, false);
    assert.equal(PgBouncerSpec.safeParse({ instances: [instance], databases: [{ name: 'app' }], passwordEnv: 'not an env name' }).success, false);
  });
});

describe('the [databases] file pgvigil writes', () => {
  test('one line per database at the writer, tagged with the term', () => {
    const spec = PgBouncerSpec.parse({ instances: [instance], databases: [{ name: 'app' }, { name: 'reports', dbname: 'app_reports' }] });
    const text = databasesFileText(spec, { term: 7, writer: { name: 'pg2', host: '10.0.1.6', port: 5433 }, readers: [] });
    assert.equal(
      text,
      '; pgvigil term 7, writer pg2. Written by pgvigil at every change of primary: do not edit.\n[databases]\napp = host=10.0.1.6 port=5433 dbname=app\nreports = host=10.0.1.6 port=5433 dbname=app_reports\n',
    );
    assert.equal(termOfDatabasesFile(text), 7);
    assert.equal(termOfDatabasesFile('[databases]\n'), null);
  });

  test('a console is named by host and port only', () => {
    assert.equal(consoleName(instance.admin), 'pgbouncer 10.0.1.9:6432');
  });
});
