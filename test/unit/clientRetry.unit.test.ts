import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClusterOptions } from '../../lib/client/options.ts';
import { isTransient } from '../../lib/client/retry.ts';

test('failover.retryMs defaults to 15 s; a bad one is refused naming the field', () => {
  const r = parseClusterOptions({ writer: 'postgresql://a@h/x', reader: 'postgresql://b@h/x' });
  assert.deepEqual(r.ok ? r.value.failover : null, { retryMs: 15_000 });
  const bad = parseClusterOptions({ writer: 'postgresql://a@h/x', reader: 'x', failover: { retryMs: 'soon' } });
  assert.match(bad.ok ? '' : bad.reason, /failover\.retryMs/);
});

test('a lost connection or a server shutting down is tried again; a bad login or bad SQL is not', () => {
  assert.equal(isTransient(new Error('Connection terminated unexpectedly')), true);
  assert.equal(isTransient(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })), true);
  for (const code of ['57P01', '57P03', '08006']) assert.equal(isTransient({ code }), true, code);
  for (const code of ['28P01', '42601', '23505', '40001']) assert.equal(isTransient({ code }), false, code);
});
