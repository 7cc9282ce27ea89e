import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createHash } from 'node:crypto';
import {
  canonicalString,
  NONCE_HEADER,
  signRequest,
  SIGNATURE_HEADER,
  TARGET_HEADER,
  TIMESTAMP_HEADER,
  verifyRequest,
  type SignedTarget,
} from '../../lib/agent/signing.ts';
import { ReplayCache } from '../../lib/agent/replayCache.ts';

const key = Buffer.from('k'.repeat(40));
const otherKey = Buffer.from('x'.repeat(40));
const now = 1_800_000_000_000;
const body = '{"term":3}';
const path = '/v1/actions/fence';
const pg2: SignedTarget = { cluster: 'prod', node: 'pg2' };
const pg3: SignedTarget = { cluster: 'prod', node: 'pg3' };

function request(headers: Record<string, string>, over: Partial<{ method: string; path: string; body: string }> = {}) {
  return { method: 'POST', path, body, headers, ...over };
}
const reason = (v: ReturnType<typeof verifyRequest>) => (v.ok ? 'accepted' : v.reason);

describe('request signing', () => {
  test('a request signed with the key for this agent verifies', () => {
    const v = verifyRequest(key, pg2, request(signRequest(key, pg2, 'POST', path, body, now)), 5_000, now + 100);
    assert.equal(v.ok, true);
  });

  test('during a rotation the agent holds the new and the previous key: a request signed with either verifies, with any other key not', () => {
    const rotated = [otherKey, key];
    for (const signer of [key, otherKey]) {
      const headers = signRequest(signer, pg2, 'POST', path, body, now);
      assert.equal(reason(verifyRequest(rotated, pg2, request(headers), 5_000, now)), 'accepted');
    }
    const stranger = signRequest(Buffer.from('z'.repeat(40)), pg2, 'POST', path, body, now);
    assert.match(reason(verifyRequest(rotated, pg2, request(stranger), 5_000, now)), /^bad signature/);
    // After the rotation the previous key is dropped: what it signs is refused.
    const old = signRequest(key, pg2, 'POST', path, body, now);
    assert.match(reason(verifyRequest([otherKey], pg2, request(old), 5_000, now)), /^bad signature/);
  });

  test('unsigned, wrong key, or altered method, path, body or timestamp is refused', () => {
    const h = signRequest(key, pg2, 'POST', path, body, now);
    assert.match(reason(verifyRequest(key, pg2, request({}), 5_000, now)), /^unsigned/);
    assert.match(reason(verifyRequest(key, pg2, request(signRequest(otherKey, pg2, 'POST', path, body, now)), 5_000, now)), /^bad signature/);
    assert.match(reason(verifyRequest(key, pg2, request(h, { body: '{"term":4}' }), 5_000, now)), /^bad signature/);
    assert.match(reason(verifyRequest(key, pg2, request(h, { path: '/v1/actions/promote' }), 5_000, now)), /^bad signature/);
    assert.match(reason(verifyRequest(key, pg2, request(h, { method: 'PUT' }), 5_000, now)), /^bad signature/);
    assert.match(reason(verifyRequest(key, pg2, request({ ...h, [TIMESTAMP_HEADER]: String(now + 1) }), 5_000, now)), /^bad signature/);
    assert.match(reason(verifyRequest(key, pg2, request({ ...h, [SIGNATURE_HEADER]: 'zz' }), 5_000, now)), /^bad x-pgvigil-signature/);
  });

  test('a request signed for pg2 is refused by pg3, naming both; a target header rewritten to pg3 breaks the signature', () => {
    const h = signRequest(key, pg2, 'POST', path, body, now);
    assert.equal(h[TARGET_HEADER], 'prod/pg2');
    assert.equal(
      reason(verifyRequest(key, pg3, request(h), 5_000, now)),
      'wrong target: signed for node pg2 of cluster prod, but this agent is node pg3 of cluster prod',
    );
    assert.match(reason(verifyRequest(key, { cluster: 'staging', node: 'pg2' }, request(h), 5_000, now)), /^wrong target: signed for node pg2 of cluster prod, but this agent is node pg2 of cluster staging$/);
    assert.match(reason(verifyRequest(key, pg3, request({ ...h, [TARGET_HEADER]: 'prod/pg3' }), 5_000, now)), /^bad signature/);
    assert.match(reason(verifyRequest(key, pg3, request({ ...h, [TARGET_HEADER]: 'prod/pg3\nx' }), 5_000, now)), /^bad x-pgvigil-target/);
  });

  test('an old-style request (v1: no target, signed without cluster and node) is refused, also with a target header added', () => {
    const nonce = 'n'.repeat(32);
    const v1 = ['pgvigil-v1', 'POST', path, String(now), nonce, createHash('sha256').update(body).digest('hex')].join('\n');
    const sig = createHmac('sha256', key).update(v1).digest('hex');
    const old = { [TIMESTAMP_HEADER]: String(now), [NONCE_HEADER]: nonce, [SIGNATURE_HEADER]: sig };
    assert.match(reason(verifyRequest(key, pg2, request(old), 5_000, now)), /^unsigned: .*x-pgvigil-target/);
    assert.match(reason(verifyRequest(key, pg2, request({ ...old, [TARGET_HEADER]: 'prod/pg2' }), 5_000, now)), /^bad signature/);
  });

  test('older or newer than the allowed skew is refused', () => {
    const h = signRequest(key, pg2, 'POST', path, body, now);
    const late = verifyRequest(key, pg2, request(h), 5_000, now + 5_001);
    const early = verifyRequest(key, pg2, request(h), 5_000, now - 5_001);
    assert.match(reason(late), /^expired/);
    assert.match(reason(early), /^from the future/);
  });

  test('parts cannot be shifted between fields of the canonical string', () => {
    const base = { method: 'POST', body: 'b', timestamp: 1, nonce: 'n'.repeat(16) };
    const a = canonicalString({ ...base, path: '/a', cluster: 'c', node: 'n' });
    const b = canonicalString({ ...base, path: '/a\nb', body: '', cluster: 'c', node: 'n' });
    assert.notEqual(a, b);
    assert.notEqual(canonicalString({ ...base, path: '/a', cluster: 'c', node: 'n' }), canonicalString({ ...base, path: '/a', cluster: 'n', node: 'c' }));
    assert.match(a, /^pgvigil-v2\nPOST\n\/a\n1\nn{16}\nc\nn\n[0-9a-f]{64}$/);
  });

  test('nonces are fresh per request', () => {
    assert.notEqual(signRequest(key, pg2, 'POST', path, body, now)[NONCE_HEADER], signRequest(key, pg2, 'POST', path, body, now)[NONCE_HEADER]);
  });
});

describe('replay cache', () => {
  test('a nonce is admitted once within the skew window, and forgotten after it', () => {
    const cache = new ReplayCache(5_000, now);
    assert.equal(cache.admit('nonce-aaaaaaaaaaaa', now, now).ok, true);
    assert.deepEqual(cache.admit('nonce-aaaaaaaaaaaa', now, now + 4_000), { ok: false, reason: 'replayed: this nonce was already used' });
    assert.equal(cache.admit('nonce-bbbbbbbbbbbb', now, now + 4_000).ok, true);
    // Past timestamp + skew the signature check refuses the replay itself; the cache may forget.
    cache.admit('nonce-cccccccccccc', now + 10_000, now + 10_000);
    assert.equal(cache.size, 1);
  });

  test('nothing signed before the cache was made (the agent started) is admitted, though within the skew', () => {
    const startedAt = now;
    const cache = new ReplayCache(5_000, startedAt);
    const before = cache.admit('nonce-dddddddddddd', startedAt - 1, startedAt + 10);
    assert.equal(before.ok, false);
    assert.match(before.ok ? '' : before.reason, /^signed before this agent started: signed at 1799999999999, started at 1800000000000/);
    assert.equal(cache.admit('nonce-eeeeeeeeeeee', startedAt, startedAt + 10).ok, true);
    assert.equal(cache.size, 1);
  });
});
