import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { callAgent } from '../../lib/agent/agentClient.ts';

const KEY = Buffer.alloc(32, 7);
const at = (url: string) => ({ url, cluster: 'test', node: 'n1' });

describe('callAgent reads each answer by the action’s answer schema', () => {
  /** A stand-in agent: it answers whatever the test puts in `next` and checks no signature. */
  let server: Server;
  let url = '';
  let next: { status: number; body: unknown } = { status: 200, body: {} };
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(next.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(next.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('a well-formed answer comes back typed, with the facts the schema does not name passed through', async () => {
    next = { status: 200, body: { ok: true, reason: 'shut down cleanly', checkpointLsn: '0/3000148', timeline: 2, extra: 'kept' } };
    const r = await callAgent(at(url), KEY, 'demote', { term: 3 });
    assert.ok(r.ok, r.reason);
    assert.equal(r.checkpointLsn, '0/3000148');
    assert.equal(r.timeline, 2);
    assert.equal(r['extra'], 'kept');
    assert.equal(r.httpStatus, 200);
  });

  test('a malformed ok answer becomes a failure that names the field, not a fact that reaches the decision log', async () => {
    next = { status: 200, body: { ok: true, reason: 'shut down cleanly', checkpointLsn: 'not-an-lsn', timeline: 2 } };
    const r = await callAgent(at(url), KEY, 'demote', { term: 3 });
    assert.equal(r.ok, false);
    assert.equal(r.reason, `agent answered demote from ${url} with a malformed answer (it said ok: shut down cleanly): checkpointLsn: an LSN like 0/3000148`);
    assert.equal(r['checkpointLsn'], undefined);
  });

  test('an ok backup answer without its id is a failure naming id', async () => {
    next = { status: 200, body: { ok: true, reason: 'backup taken', bytes: 10, ms: 5, stopLsn: '0/5000000' } };
    const r = await callAgent(at(url), KEY, 'backup', {});
    assert.equal(r.ok, false);
    assert.match(r.reason, /^agent answered backup from http:\/\/127\.0\.0\.1:\d+ with a malformed answer \(it said ok: backup taken\): id: /);
  });

  test('a refusal keeps its reason and its facts (currentTerm), unchecked by the answer schema', async () => {
    next = { status: 409, body: { ok: false, reason: 'term 4 is older than 5', currentTerm: 5 } };
    const r = await callAgent(at(url), KEY, 'fence', { term: 4 });
    assert.deepEqual(r, { ok: false, reason: 'term 4 is older than 5', currentTerm: 5, httpStatus: 409 });
  });
});

/** Never called: tsc checks that a body the action's schema refuses does not compile. */
export function requestsAreTyped(url: string): void {
  // @ts-expect-error follow needs the primary to follow
  void callAgent(at(url), KEY, 'follow', { term: 1 });
  // @ts-expect-error fence takes a term only
  void callAgent(at(url), KEY, 'fence', { term: 1, force: true });
  // @ts-expect-error no such action
  void callAgent(at(url), KEY, 'restart', {});
}
