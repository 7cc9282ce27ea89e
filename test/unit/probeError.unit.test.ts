import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProbeDeadline, classifyProbeError } from '../../lib/probe/probeError.ts';

const err = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});

test('a crash is refused, silence is a timeout, a rejected login is auth', () => {
  assert.equal(classifyProbeError(err('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')).kind, 'refused');
  assert.equal(classifyProbeError(err('read ECONNRESET', 'ECONNRESET')).kind, 'refused');
  assert.equal(classifyProbeError(err('Connection terminated unexpectedly')).kind, 'refused');
  assert.equal(classifyProbeError(err('the database system is shutting down', '57P03')).kind, 'refused');
  assert.equal(classifyProbeError(new ProbeDeadline(500)).kind, 'timeout');
  assert.equal(classifyProbeError(err('canceling statement due to statement timeout', '57014')).kind, 'timeout');
  assert.equal(classifyProbeError(err('connect ETIMEDOUT', 'ETIMEDOUT')).kind, 'timeout');
  assert.equal(classifyProbeError(err('password authentication failed for user "x"', '28P01')).kind, 'auth');
  assert.equal(classifyProbeError(err('no pg_hba.conf entry for host', '28000')).kind, 'auth');
  assert.equal(classifyProbeError(err('database "nope" does not exist', '3D000')).kind, 'other');
});

test('the message is kept for the operator', () => {
  assert.equal(classifyProbeError(err('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')).message, 'connect ECONNREFUSED 127.0.0.1:5432');
});
