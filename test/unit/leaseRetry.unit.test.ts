import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { leaseRenewEveryMs } from '../../lib/agent/lease.ts';
import { renewAttemptTimeoutMs, renewRetryDelayMs, renewSlackMs } from '../../lib/agent/leaseRetry.ts';

describe('lease renewal retry timing (lib/agent/leaseRetry.ts)', () => {
  test('at the default TTL: renew every 1.5 s, a request given 500 ms, retries after 100, 200, then 375 ms', () => {
    const t = { ttlMs: 3_000, renewEveryMs: leaseRenewEveryMs(3_000) };
    assert.equal(t.renewEveryMs, 1_500);
    assert.equal(renewSlackMs(t), 1_500);
    assert.equal(renewAttemptTimeoutMs(t), 500);
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => renewRetryDelayMs(n, t)), [100, 200, 375, 375, 375]);
  });

  test('for any TTL at its cadence, a hung first request and the backoff leave time for a retry before the lapse', () => {
    for (let ttlMs = 200; ttlMs <= 120_000; ttlMs += 100) {
      const t = { ttlMs, renewEveryMs: leaseRenewEveryMs(ttlMs) };
      const retryAt = renewAttemptTimeoutMs(t) + renewRetryDelayMs(1, t);
      assert.ok(retryAt < renewSlackMs(t), `TTL ${ttlMs}: the retry goes at ${retryAt} ms of a ${renewSlackMs(t)} ms slack`);
    }
  });

  test('bounds: a request gets 50 ms to 1 s; a renewal cadence at or past the TTL leaves no slack', () => {
    assert.equal(renewAttemptTimeoutMs({ ttlMs: 60_000, renewEveryMs: 30_000 }), 1_000);
    assert.equal(renewAttemptTimeoutMs({ ttlMs: 100, renewEveryMs: 50 }), 50);
    assert.equal(renewSlackMs({ ttlMs: 1_000, renewEveryMs: 1_000 }), 0);
    assert.equal(renewRetryDelayMs(1, { ttlMs: 1_000, renewEveryMs: 1_000 }), 10);
  });
});
