import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalString, NONCE_HEADER, signRequest, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyRequest } from '../../lib/agent/signing.ts';
import { ReplayCache } from '../../lib/agent/replayCache.ts';

const key = Buffer.from('k'.repeat(40));
const otherKey = Buffer.from('x'.repeat(40));
const now = 1_800_000_000_000;
const body = '{"term":3}';
const path = '/v1/actions/fence';

function request(headers: Record<string, string>, over: Partial<{ method: string; path: string; body: string }> = {}) {
  return { method: 'POST', path, body, headers, ...over };
}

describe('request signing', () => {
  test('a request signed with the key verifies', () => {
    const v = verifyRequest(key, request(signRequest(key, 'POST', path, body, now)), 5_000, now + 100);
    assert.equal(v.ok, true);
  });

  test('unsigned, wrong key, or altered method, path, body or timestamp is refused', () => {
    const h = signRequest(key, 'POST', path, body, now);
    const reason = (v: ReturnType<typeof verifyRequest>) => (v.ok ? 'accepted' : v.reason);
    assert.match(reason(verifyRequest(key, request({}), 5_000, now)), /^unsigned/);
    assert.match(reason(verifyRequest(key, request(signRequest(otherKey, 'POST', path, body, now)), 5_000, now)), /^bad signature/);
    assert.match(reason(verifyRequest(key, request(h, { body: '{"term":4}' }), 5_000, now)), /^bad signature/);
    assert.match(reason(verifyRequest(key, request(h, { path: '/v1/actions/promote' }), 5_000, now)), /^bad signature/);
    assert.match(reason(verifyRequest(key, request(h, { method: 'PUT' }), 5_000, now)), /^bad signature/);
    assert.match(reason(verifyRequest(key, request({ ...h, [TIMESTAMP_HEADER]: String(now + 1) }), 5_000, now)), /^bad signature/);
    assert.match(reason(verifyRequest(key, request({ ...h, [SIGNATURE_HEADER]: 'zz' }), 5_000, now)), /^bad x-pgvigil-signature/);
  });

  test('older or newer than the allowed skew is refused', () => {
    const h = signRequest(key, 'POST', path, body, now);
    const late = verifyRequest(key, request(h), 5_000, now + 5_001);
    const early = verifyRequest(key, request(h), 5_000, now - 5_001);
    assert.equal(late.ok, false);
    assert.match(late.ok ? '' : late.reason, /^expired/);
    assert.match(early.ok ? '' : early.reason, /^from the future/);
  });

  test('parts cannot be shifted between fields of the canonical string', () => {
    const a = canonicalString({ method: 'POST', path: '/a', body: 'b', timestamp: 1, nonce: 'n'.repeat(16) });
    const b = canonicalString({ method: 'POST', path: '/a\nb', body: '', timestamp: 1, nonce: 'n'.repeat(16) });
    assert.notEqual(a, b);
  });

  test('nonces are fresh per request', () => {
    assert.notEqual(signRequest(key, 'POST', path, body, now)[NONCE_HEADER], signRequest(key, 'POST', path, body, now)[NONCE_HEADER]);
  });
});

describe('replay cache', () => {
  test('a nonce is admitted once within the skew window, and forgotten after it', () => {
    const cache = new ReplayCache(5_000);
    assert.equal(cache.admit('nonce-aaaaaaaaaaaa', now, now), true);
    assert.equal(cache.admit('nonce-aaaaaaaaaaaa', now, now + 4_000), false);
    assert.equal(cache.admit('nonce-bbbbbbbbbbbb', now, now + 4_000), true);
    // Past timestamp + skew the signature check refuses the replay itself; the cache may forget.
    cache.admit('nonce-cccccccccccc', now + 10_000, now + 10_000);
    assert.equal(cache.size, 1);
  });
});
