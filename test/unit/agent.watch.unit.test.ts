import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LASTING_AFTER_MS, LASTING_WAKE_EVERY_MS, WAKE_EVERY_MS, wakeDue, type FailingEpisode } from '../../lib/agent/watch/wakePacing.ts';
import { wakeReason } from '../../lib/agent/watch/findings.ts';
import { healthUrlOf, PrimaryAgentCheck } from '../../lib/agent/watch/primaryAgent.ts';

/** Failing checks at `times` (ms from the episode's first); the ones that wake, each put landing. */
function wakesAt(times: number[]): number[] {
  const ep: FailingEpisode = { since: times[0]!, lastWakeAt: null };
  const woke: number[] = [];
  for (const t of times) {
    if (!wakeDue(ep, t)) continue;
    woke.push(t);
    ep.lastWakeAt = t;
  }
  return woke;
}

/** A failing check every `every` ms from 0 up to `until`. */
const checks = (every: number, until: number) => Array.from({ length: Math.floor(until / every) + 1 }, (_, i) => i * every);

describe('wake pacing: first failure, then every 2 s, every 5 min past a minute', () => {
  test('the first failing check wakes at once', () => {
    assert.deepEqual(wakesAt([1_000]), [1_000]);
  });

  test('checks every 150 ms for 10 s wake at 0 and then once per 2 s, never twice within 2 s', () => {
    const woke = wakesAt(checks(150, 10_000));
    assert.equal(woke[0], 0);
    for (let i = 1; i < woke.length; i++) assert.ok(woke[i]! - woke[i - 1]! >= WAKE_EVERY_MS, `wakes ${woke[i - 1]} and ${woke[i]}`);
    // 0, 2100, 4200, 6300, 8400: the first check at or after each 2 s mark.
    assert.deepEqual(woke, [0, 2_100, 4_200, 6_300, 8_400]);
  });

  test('past a minute of failing, at most every 5 minutes', () => {
    const woke = wakesAt(checks(150, 20 * 60_000));
    const inFirstMinute = woke.filter((t) => t <= LASTING_AFTER_MS);
    const later = woke.filter((t) => t > LASTING_AFTER_MS);
    assert.equal(inFirstMinute.length, 29, 'one every 2.1 s (the first check past each 2 s) for a minute');
    for (let i = 1; i < later.length; i++) assert.ok(later[i]! - later[i - 1]! >= LASTING_WAKE_EVERY_MS);
    // The last wake of the first minute at 58.8 s; then 5 min after it, and so on: 358.8 s, 658.8 s, 958.8 s.
    assert.deepEqual(later, [358_800, 658_800, 958_800]);
  });

  test('a put the store refused does not count: the next failing check is due again', () => {
    const ep: FailingEpisode = { since: 0, lastWakeAt: null };
    assert.equal(wakeDue(ep, 0), true);
    // Refused: lastWakeAt stays null.
    assert.equal(wakeDue(ep, 150), true);
    ep.lastWakeAt = 150;
    assert.equal(wakeDue(ep, 300), false);
    assert.equal(wakeDue(ep, 2_150), true);
  });

  test('a passing check ends the episode: the next failure wakes at once', () => {
    // The watch starts a new episode after a pass; pacing knows only its episode.
    assert.deepEqual(wakesAt([5_000, 5_150]), [5_000]);
    assert.deepEqual(wakesAt([5_300]), [5_300]);
  });
});

describe('the watch reason and the health URL it checks', () => {
  test('the reason names the node and each thing seen, within the store\'s 300 characters', () => {
    assert.equal(wakeReason('pg2', [{ kind: 'primary_agent_unreachable', what: "primary pg1's agent did not answer /primary within 400 ms" }]), "pg2: primary pg1's agent did not answer /primary within 400 ms");
    const long = wakeReason('pg2', [{ kind: 'wrong_role', what: 'x'.repeat(400) }]);
    assert.equal(long.length, 300);
  });

  test('an https agent URL is checked over plain HTTP on the same port (443 when it names none)', () => {
    assert.equal(healthUrlOf('https://10.0.1.5:8008', '/primary').href, 'http://10.0.1.5:8008/primary');
    assert.equal(healthUrlOf('https://pg1.internal', '/primary').href, 'http://pg1.internal:443/primary');
    assert.equal(healthUrlOf('http://[::1]:8008/', '/primary').href, 'http://[::1]:8008/primary');
    assert.equal(healthUrlOf('http://pg1.internal', '/primary').href, 'http://pg1.internal/primary');
  });
});

describe("the primary agent's check keeps its connection", () => {
  test('20 checks open one connection; a 503 names the verdict the agent gave', async () => {
    let connections = 0;
    let status = 200;
    const server = createServer((req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ state: 'running', pgvigil: { reason: status === 200 ? 'primary of term 1' : 'fenced at term 2: switchover' } }));
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const check = new PrimaryAgentCheck();
    try {
      // An https URL: checked over plain HTTP on its port, as an agent with TLS serves health.
      const agent = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      for (let i = 0; i < 20; i++) assert.equal(await check.check({ name: 'pg1', agent }, 2_000), null);
      assert.equal(connections, 1);
      status = 503;
      assert.deepEqual(await check.check({ name: 'pg1', agent }, 2_000), { kind: 'primary_not_serving', what: "primary pg1's agent answered /primary 503 (fenced at term 2: switchover)" });
    } finally {
      check.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
