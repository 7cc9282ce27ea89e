import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { callAgent } from '../../lib/agent/agentClient.ts';
import { signRequest, SIGNATURE_HEADER } from '../../lib/agent/signing.ts';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { startTestAgent, TEST_KEY, type TestAgent } from '../support/agentHarness.ts';

const PG_PORT = 15500;
const AGENT_PORT = 15510;
const SILENT_PORT = 15511;

describe('agent auth and request checks (one real PostgreSQL node)', () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;
  let agent: TestAgent | undefined;
  let silent: Server | undefined;

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-c-auth-');
    cluster = await createLocalCluster({ workDir, basePort: PG_PORT, names: ['a1'], replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    const node = cluster.nodes[0]!;
    agent = await startTestAgent({ cluster: 'auth', node, bindir: cluster.bindir, osUser: cluster.osUser, agentPort: AGENT_PORT, workDir });
  });
  after(async () => {
    await agent?.close();
    silent?.close();
    await cluster?.stopAll();
    await rm(workDir, { recursive: true, force: true });
  });

  const sentSignatures: string[] = [];

  /** A raw POST with the given headers and body. */
  async function post(action: string, body: string, headers: Record<string, string>) {
    if (headers[SIGNATURE_HEADER]) sentSignatures.push(headers[SIGNATURE_HEADER]);
    const res = await fetch(`${agent!.url}/v1/actions/${action}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    return { status: res.status, body: (await res.json()) as { ok: boolean; reason: string; currentTerm?: number } };
  }

  async function primaryStillServes(): Promise<void> {
    const rows = await sqlOnce<{ recovery: boolean }>(PG_PORT, 'SELECT pg_is_in_recovery() AS recovery');
    assert.deepEqual(rows, [{ recovery: false }]);
  }

  test('a signed status request is answered', async () => {
    const r = await callAgent(agent!.url, TEST_KEY, 'status', {});
    assert.equal(r.ok, true, r.reason);
    assert.equal(r['role'], 'primary');
    assert.equal(r['term'], 0);
  });

  test('unsigned, wrong-key, expired and future-dated fence requests are refused with 401 and PostgreSQL keeps running', async () => {
    const body = JSON.stringify({ term: 1 });
    const path = '/v1/actions/fence';
    const wrongKey = Buffer.from('another-key-another-key-another-key!', 'utf8');
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['unsigned', {}, /^unsigned/],
      ['wrong key', signRequest(wrongKey, 'POST', path, body), /^bad signature/],
      ['expired', signRequest(TEST_KEY, 'POST', path, body, Date.now() - 60_000), /^expired/],
      ['future', signRequest(TEST_KEY, 'POST', path, body, Date.now() + 60_000), /^from the future/],
    ];
    for (const [what, headers, reason] of cases) {
      const r = await post('fence', body, headers);
      assert.equal(r.status, 401, what);
      assert.equal(r.body.ok, false);
      assert.match(r.body.reason, reason, what);
    }
    await primaryStillServes();
    const status = await callAgent(agent!.url, TEST_KEY, 'status', {});
    assert.equal(status['term'], 0, 'a refused request must not raise the term');
    assert.equal(status['fenced'], null);
  });

  test('a replayed request is refused', async () => {
    const body = JSON.stringify({});
    const headers = signRequest(TEST_KEY, 'POST', '/v1/actions/status', body);
    assert.equal((await post('status', body, headers)).status, 200);
    const again = await post('status', body, headers);
    assert.equal(again.status, 401);
    assert.match(again.body.reason, /^replayed/);
  });

  test('refusals are logged with their reason, never with the key or the signature', async () => {
    const refusals = agent!.lines.filter((l) => l.msg === 'refused');
    assert.ok(refusals.length >= 5);
    assert.ok(refusals.every((l) => typeof l.reason === 'string'));
    const all = JSON.stringify(agent!.lines);
    assert.ok(!all.includes(TEST_KEY.toString('utf8')), 'the key leaked into the log');
    assert.ok(sentSignatures.length >= 4);
    for (const sig of sentSignatures) assert.ok(!all.includes(sig), 'a signature leaked into the log');
  });

  test('malformed JSON, an unknown action and a body failing its schema get 400 with a reason naming the problem', async () => {
    const send = (action: string, body: string) => post(action, body, signRequest(TEST_KEY, 'POST', `/v1/actions/${action}`, body));
    const bad = await send('fence', '{"term": ');
    assert.equal(bad.status, 400);
    assert.match(bad.body.reason, /^malformed JSON/);
    const unknown = await send('explode', '{}');
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.reason, /^unknown action "explode": use one of status, promote, fence/);
    const schema = await send('fence', JSON.stringify({ term: 'one' }));
    assert.equal(schema.status, 400);
    assert.match(schema.body.reason, /^fence request: term: /);
    const follow = await send('follow', JSON.stringify({ term: 1, primary: { name: 'a2', host: 'x y', port: 5432 } }));
    assert.equal(follow.status, 400);
    assert.match(follow.body.reason, /^follow request: primary\.host: give a host name/);
    await primaryStillServes();
  });

  test('an action with a term older than the highest seen gets 409 with the current term, and nothing is done', async () => {
    // Promote on a primary is a no-op that still records the term.
    const raise = await callAgent(agent!.url, TEST_KEY, 'promote', { term: 5 });
    assert.equal(raise.ok, true, raise.reason);
    assert.equal(raise['promoted'], false);
    const stale = await callAgent(agent!.url, TEST_KEY, 'fence', { term: 4 });
    assert.equal(stale.httpStatus, 409);
    assert.equal(stale.ok, false);
    assert.equal(stale['currentTerm'], 5);
    assert.match(stale.reason, /^stale term 4/);
    await primaryStillServes();
  });

  test('the term survives an agent restart', async () => {
    await agent!.close();
    const node = cluster!.nodes[0]!;
    agent = await startTestAgent({ cluster: 'auth', node, bindir: cluster!.bindir, osUser: cluster!.osUser, agentPort: AGENT_PORT, workDir });
    const stale = await callAgent(agent.url, TEST_KEY, 'fence', { term: 4 });
    assert.equal(stale.httpStatus, 409);
    await primaryStillServes();
  });

  test('an agent that never answers, or is not there, is reported unreachable within the timeout', async () => {
    silent = createServer(() => {});
    await new Promise<void>((r) => silent!.listen(SILENT_PORT, '127.0.0.1', r));
    const hung = await callAgent(`http://127.0.0.1:${SILENT_PORT}`, TEST_KEY, 'status', {}, { timeoutMs: 300 });
    assert.equal(hung.ok, false);
    assert.match(hung.reason, /^agent unreachable: .*no answer within 300 ms/);
    const gone = await callAgent('http://127.0.0.1:15512', TEST_KEY, 'status', {}, { timeoutMs: 300 });
    assert.match(gone.reason, /^agent unreachable: .*ECONNREFUSED/);
  });
});
