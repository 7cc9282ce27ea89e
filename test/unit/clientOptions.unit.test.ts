import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClusterOptions } from '../../lib/client/options.ts';
import { replayTarget } from '../../lib/client/commitLsn.ts';
import { createCluster } from '../../lib/client/index.ts';

test('connection strings become pool configs, and defaults fill readYourWrites', () => {
  const r = parseClusterOptions({ writer: 'postgresql://a@127.0.0.1:1/x', reader: { host: '127.0.0.1', port: 2, max: 4 } });
  assert.ok(r.ok);
  const { Client: writerClient, ...writer } = r.value.writer;
  const { Client: readerClient, ...reader } = r.value.readers[0]!;
  assert.deepEqual(writer, { connectionString: 'postgresql://a@127.0.0.1:1/x' });
  assert.deepEqual(reader, { host: '127.0.0.1', port: 2, max: 4 });
  // New connections are bounded by a client class (see the frozen-reader integration test).
  assert.ok(writerClient && readerClient);
  assert.deepEqual(r.value.readYourWrites, { timeoutMs: 1000, pollMs: 2 });
});

test('missing reader, both reader and readers, or a bad timeout are refused naming the field', () => {
  const none = parseClusterOptions({ writer: 'postgresql://a@h/x' });
  assert.equal(none.ok, false);
  assert.match(none.ok ? '' : none.reason, /reader: give `reader`/);
  const both = parseClusterOptions({ writer: 'postgresql://a@h/x', reader: 'postgresql://b@h/x', readers: ['postgresql://c@h/x'] });
  assert.match(both.ok ? '' : both.reason, /readers: give either/);
  const bad = parseClusterOptions({ writer: 'postgresql://a@h/x', reader: 'x', readYourWrites: { timeoutMs: -1 } });
  assert.match(bad.ok ? '' : bad.reason, /readYourWrites\.timeoutMs/);
  assert.throws(() => createCluster({ writer: '', reader: 'x' }), /writer/);
});

test('an insert position just past a page header stands for the page boundary', () => {
  // 0/3002018 = page 0x3002000 + 24-byte header: the last record ended at 0/3002000.
  assert.equal(replayTarget('0/3002018', 8192n), '0/3002000');
  assert.equal(replayTarget('0/3002020', 8192n), '0/3002020');
  // A segment's first page has a 40-byte header: left alone (at worst the read waits for more WAL).
  assert.equal(replayTarget('0/3000028', 8192n), '0/3000028');
  // Another block size: 0/3002018 is mid-page.
  assert.equal(replayTarget('0/3002018', 16384n), '0/3002018');
});
