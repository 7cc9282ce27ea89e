import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { callAgent } from '../../lib/agent/agentClient.ts';
import { AGENT_ANSWERED_HEADER, AGENT_MAX_SKEW_HEADER, AGENT_RECEIVED_HEADER } from '../../lib/agent/signing.ts';

const KEY = Buffer.alloc(32, 7);
const PORT = 22520;
const url = `http://127.0.0.1:${PORT}`;
const at = { url, cluster: 'test', node: 'n1' };

describe("callAgent measures the agent's clock from its answer's headers, never from its body", () => {
  /** A stand-in agent: it answers `next`, with the clock headers `clock` makes (null: none). */
  let server: Server;
  let next: { body: unknown; clock: ((now: number) => Record<string, string>) | null } = { body: {}, clock: null };
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(401, { 'content-type': 'application/json', ...(next.clock ? next.clock(Date.now()) : {}) });
        res.end(JSON.stringify(next.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(PORT, '127.0.0.1', resolve));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const refusal = { ok: false, reason: 'expired: signed 60000 ms ago, more than the allowed 5000 ms skew' };

  test('an agent 60 s ahead: measured 60 s ahead, within the round trip, with the skew it allows', async () => {
    next = { body: refusal, clock: (now) => ({ [AGENT_RECEIVED_HEADER]: String(now + 60_000), [AGENT_ANSWERED_HEADER]: String(now + 60_000), [AGENT_MAX_SKEW_HEADER]: '5000' }) };
    const r = await callAgent(at, KEY, 'status', {});
    assert.equal(r.httpStatus, 401);
    assert.ok(r.agentClock, JSON.stringify(r));
    assert.ok(Math.abs(r.agentClock.skewMs - 60_000) <= r.agentClock.uncertaintyMs + 50, JSON.stringify(r.agentClock));
    assert.equal(r.agentClock.maxSkewMs, 5_000);
  });

  test('no clock headers (an older agent): nothing measured, and a clock the body claims is not taken', async () => {
    next = { body: { ...refusal, agentClock: { skewMs: 0, uncertaintyMs: 0, maxSkewMs: 5_000 } }, clock: null };
    const r = await callAgent(at, KEY, 'status', {});
    assert.equal(r.agentClock, undefined);
    assert.equal(r.agentClockUnread, undefined);
  });

  test('a malformed clock header: nothing measured, and the reason names the header', async () => {
    next = { body: refusal, clock: (now) => ({ [AGENT_RECEIVED_HEADER]: 'soon', [AGENT_ANSWERED_HEADER]: String(now), [AGENT_MAX_SKEW_HEADER]: '5000' }) };
    const r = await callAgent(at, KEY, 'status', {});
    assert.equal(r.agentClock, undefined);
    assert.match(r.agentClockUnread ?? '', /x-pgvigil-agent-received: ms since epoch expected/);
  });

  test('a header missing: the reason names it', async () => {
    next = { body: refusal, clock: (now) => ({ [AGENT_RECEIVED_HEADER]: String(now), [AGENT_ANSWERED_HEADER]: String(now) }) };
    const r = await callAgent(at, KEY, 'status', {});
    assert.match(r.agentClockUnread ?? '', /x-pgvigil-agent-max-skew/);
  });
});
