import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { postOnce } from '../../lib/agent/agentTransport.ts';
import { ensureCa } from '../../lib/host/clusterTls.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { callAgent } from '../../lib/agent/agentClient.ts';
import { BODY_DEADLINE_MS } from '../../lib/agent/agentServer.ts';
import { signRequest, SIGNATURE_HEADER, type SignedTarget } from '../../lib/agent/signing.ts';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { startTestAgent, TEST_KEY, type TestAgent } from '../support/agentHarness.ts';
import { keyDirSigningKey } from '../../lib/agent/keyDir.ts';
import { agentKeyPath, agentKeysDir, ensureAgentKeyFile, rotateAgentKeyFile } from '../../lib/local/localAgentKeys.ts';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const PG_PORT = 15500;
const AGENT_PORT = 15510;
const SILENT_PORT = 15511;
/** Two more agents, each with a key of its own (their own files, as local mode makes them). */
// Below 32768: a fixed port in Linux's ephemeral range (32768-60999) can be taken by any client socket.
const OWN_KEY_PORTS = { a1: 29410, a2: 29411 } as const;
/** The agent under test, and another node of its cluster. */
const A1: SignedTarget = { cluster: 'auth', node: 'a1' };
const A2: SignedTarget = { cluster: 'auth', node: 'a2' };

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

  /** A raw POST with the given headers and body, over HTTPS checked against the cluster CA (or `over` another base URL). */
  async function post(action: string, body: string, headers: Record<string, string>, over = agent!.target.url) {
    if (headers[SIGNATURE_HEADER]) sentSignatures.push(headers[SIGNATURE_HEADER]);
    const res = await postOnce(new URL(`${over}/v1/actions/${action}`), { 'content-type': 'application/json', ...headers }, body, { timeoutMs: 5_000, clock: Date.now, ca: agent!.ca! });
    return { status: res.status, body: JSON.parse(res.text) as { ok: boolean; reason: string; currentTerm?: number } };
  }

  /**
   * A raw HTTP/1.1 request on its own socket: `head` (request line and headers), then `feed`
   * writes what body it likes. Resolves once the agent closes the connection, with the status
   * it answered (null when none) and how many body bytes were written by then.
   */
  function raw(head: string, feed: (write: (chunk: string | Buffer) => boolean, answered: () => boolean, socket: Socket) => void) {
    return new Promise<{ status: number | null; text: string; written: number }>((resolve) => {
      // TLS as every caller of an action speaks it; the bounds below hold before authentication.
      const socket = tlsConnect({ port: AGENT_PORT, host: '127.0.0.1', ca: agent!.ca! });
      let text = '';
      let written = 0;
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('error', () => {}); // a reset after the answer: the close below still comes
      socket.on('close', () => {
        const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
        resolve({ status: m ? Number(m[1]) : null, text, written });
      });
      socket.on('secureConnect', () => {
        socket.write(head);
        feed(
          (chunk) => {
            written += chunk.length;
            return socket.write(chunk);
          },
          () => text.length > 0,
          socket,
        );
      });
    });
  }

  async function primaryStillServes(): Promise<void> {
    const rows = await sqlOnce<{ recovery: boolean }>(PG_PORT, 'SELECT pg_is_in_recovery() AS recovery');
    assert.deepEqual(rows, [{ recovery: false }]);
  }

  test('a signed status request is answered', async () => {
    const r = await callAgent(agent!.target, TEST_KEY, 'status', {});
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
      ['wrong key', signRequest(wrongKey, A1, 'POST', path, body), /^bad signature/],
      ['expired', signRequest(TEST_KEY, A1, 'POST', path, body, Date.now() - 60_000), /^expired/],
      ['future', signRequest(TEST_KEY, A1, 'POST', path, body, Date.now() + 60_000), /^from the future/],
    ];
    for (const [what, headers, reason] of cases) {
      const r = await post('fence', body, headers);
      assert.equal(r.status, 401, what);
      assert.equal(r.body.ok, false);
      assert.match(r.body.reason, reason, what);
    }
    await primaryStillServes();
    const status = await callAgent(agent!.target, TEST_KEY, 'status', {});
    assert.equal(status['term'], 0, 'a refused request must not raise the term');
    assert.equal(status['fenced'], null);
  });

  test('a replayed request is refused', async () => {
    const body = JSON.stringify({});
    const headers = signRequest(TEST_KEY, A1, 'POST', '/v1/actions/status', body);
    assert.equal((await post('status', body, headers)).status, 200);
    const again = await post('status', body, headers);
    assert.equal(again.status, 401);
    assert.match(again.body.reason, /^replayed/);
  });

  test('a request signed for another node of the cluster, or another cluster, is refused with 401 naming the mismatch', async () => {
    const body = JSON.stringify({ term: 1 });
    const path = '/v1/actions/fence';
    // A fence captured on its way to a2, replayed to a1.
    const forA2 = await post('fence', body, signRequest(TEST_KEY, A2, 'POST', path, body));
    assert.equal(forA2.status, 401);
    assert.equal(forA2.body.reason, 'wrong target: signed for node a2 of cluster auth, but this agent is node a1 of cluster auth');
    const otherCluster = await callAgent({ ...agent!.target, cluster: 'prod', node: 'a1' }, TEST_KEY, 'fence', { term: 1 });
    assert.equal(otherCluster.httpStatus, 401);
    assert.match(otherCluster.reason, /^wrong target: signed for node a1 of cluster prod, but this agent is node a1 of cluster auth$/);
    await primaryStillServes();
    assert.equal((await callAgent(agent!.target, TEST_KEY, 'status', {}))['term'], 0, 'a refused request must not raise the term');
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
    const send = (action: string, body: string) => post(action, body, signRequest(TEST_KEY, A1, 'POST', `/v1/actions/${action}`, body));
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

  test('clone without a term is refused with 400 before anything is done', async () => {
    const body = JSON.stringify({ source: { name: 'a2', host: '127.0.0.1', port: PG_PORT + 1 } });
    const r = await post('clone', body, signRequest(TEST_KEY, A1, 'POST', '/v1/actions/clone', body));
    assert.equal(r.status, 400);
    assert.match(r.body.reason, /^clone request: term: give the term/);
    await primaryStillServes();
  });

  test('a malformed %-escape in the path is a 400, not an agent error', async () => {
    const res = await postOnce(new URL(`${agent!.target.url}/v1/actions/%E0%A4%A`), signRequest(TEST_KEY, A1, 'POST', '/v1/actions/%E0%A4%A', '{}'), '{}', { timeoutMs: 5_000, clock: Date.now, ca: agent!.ca! });
    assert.equal(res.status, 400);
    assert.match((JSON.parse(res.text) as { reason: string }).reason, /^malformed %-escape in the path \/v1\/actions\/%E0%A4%A/);
    assert.ok(!agent!.lines.some((l) => l.msg === 'action threw'), 'no action threw');
  });

  test('a declared oversized body is refused with 413 before it is sent, and the connection closed', async () => {
    const r = await raw(`POST /v1/actions/status HTTP/1.1\r\nhost: a1\r\ncontent-type: application/json\r\ncontent-length: ${1 << 20}\r\n\r\n`, () => {});
    assert.equal(r.status, 413);
    assert.match(r.text, /body larger than 65536 bytes/);
    assert.equal(r.written, 0);
  });

  test('an endless chunked body gets 413 and the socket is closed while the sender is still sending', async () => {
    const LIMIT = 256 << 20; // had the agent read on, this many bytes would have gone unanswered
    const chunk = Buffer.alloc(16 << 10, 'x');
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    const r = await raw('POST /v1/actions/status HTTP/1.1\r\nhost: a1\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n', (write, answered, socket) => {
      let sent = 0;
      const pump = () => {
        while (!answered() && !socket.destroyed && sent < LIMIT) {
          sent += frame.length;
          if (!write(frame)) return void socket.once('drain', pump);
        }
        if (sent >= LIMIT) socket.end(); // the failure case: the agent never answered
      };
      pump();
    });
    assert.equal(r.status, 413, `answered ${r.status} after ${r.written} bytes`);
    assert.ok(r.written < LIMIT, 'the agent answered while the body still came');
    await primaryStillServes();
  });

  // The timeout only keeps a broken agent from hanging the suite; the deadline is the agent's.
  test(`a body that never finishes gets 408 once the agent's ${BODY_DEADLINE_MS} ms deadline passes, and the connection closed`, { timeout: BODY_DEADLINE_MS * 6 }, async () => {
    const r = await raw('POST /v1/actions/status HTTP/1.1\r\nhost: a1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n', (write) => {
      write('{"a":'); // and nothing more, ever
    });
    assert.equal(r.status, 408);
    assert.match(r.text, new RegExp(`body not received within ${BODY_DEADLINE_MS} ms`));
    const status = await callAgent(agent!.target, TEST_KEY, 'status', {});
    assert.equal(status.ok, true, `the agent still answers: ${status.reason}`);
  });

  test('an action with a term older than the highest seen gets 409 with the current term, and nothing is done', async () => {
    // Promote on a primary is a no-op that still records the term.
    const raise = await callAgent(agent!.target, TEST_KEY, 'promote', { term: 5 });
    assert.equal(raise.ok, true, raise.reason);
    assert.equal(raise['promoted'], false);
    const stale = await callAgent(agent!.target, TEST_KEY, 'fence', { term: 4 });
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
    const stale = await callAgent(agent.target, TEST_KEY, 'fence', { term: 4 });
    assert.equal(stale.httpStatus, 409);
    await primaryStillServes();
  });

  test('a request the agent answered before it restarted is refused after the restart, though within the skew; a fresh one is answered', async () => {
    const body = JSON.stringify({});
    const headers = signRequest(TEST_KEY, A1, 'POST', '/v1/actions/status', body);
    assert.equal((await post('status', body, headers)).status, 200);
    const unsent = signRequest(TEST_KEY, A1, 'POST', '/v1/actions/fence', JSON.stringify({ term: 5 }));
    await agent!.close();
    agent = await startTestAgent({ cluster: 'auth', node: cluster!.nodes[0]!, bindir: cluster!.bindir, osUser: cluster!.osUser, agentPort: AGENT_PORT, workDir });
    const replayed = await post('status', body, headers);
    assert.equal(replayed.status, 401);
    assert.match(replayed.body.reason, /^signed before this agent started/);
    // Signed before the restart and never sent (a capture held back): refused too.
    const held = await post('fence', JSON.stringify({ term: 5 }), unsent);
    assert.equal(held.status, 401);
    assert.match(held.body.reason, /^signed before this agent started/);
    await primaryStillServes();
    const fresh = await callAgent(agent.target, TEST_KEY, 'status', {});
    assert.equal(fresh.ok, true, fresh.reason);
  });

  test('clone with a stale term is refused with 409', async () => {
    const stale = await callAgent(agent!.target, TEST_KEY, 'clone', { term: 4, source: { name: 'a2', host: '127.0.0.1', port: PG_PORT + 1 } });
    assert.equal(stale.httpStatus, 409);
    assert.equal(stale['currentTerm'], 5);
    await primaryStillServes();
  });

  test('an agent that never answers, or is not there, is reported unreachable within the timeout', async () => {
    silent = createServer(() => {});
    await new Promise<void>((r) => silent!.listen(SILENT_PORT, '127.0.0.1', r));
    const hung = await callAgent({ ...A1, url: `http://127.0.0.1:${SILENT_PORT}` }, TEST_KEY, 'status', {}, { timeoutMs: 300 });
    assert.equal(hung.ok, false);
    assert.match(hung.reason, /^agent unreachable: .*no answer within 300 ms/);
    const gone = await callAgent({ ...A1, url: 'http://127.0.0.1:15512' }, TEST_KEY, 'status', {}, { timeoutMs: 300 });
    assert.match(gone.reason, /^agent unreachable: .*ECONNREFUSED/);
  });

  describe('the agent channel is TLS with the cluster CA', () => {
    test('the agent serves HTTPS with a certificate the cluster CA issued; its actions URL is https', async () => {
      assert.match(agent!.target.url, /^https:\/\/127\.0\.0\.1:/);
      assert.ok(agent!.ca?.includes('BEGIN CERTIFICATE'));
      const r = await callAgent(agent!.target, TEST_KEY, 'status', {});
      assert.equal(r.ok, true, r.reason);
    });

    test('a client that does not trust the cluster CA cannot talk to the agent, and nothing is done', async () => {
      const termBefore = (await callAgent(agent!.target, TEST_KEY, 'status', {}))['term'];
      const { ca: _trusted, ...untrusting } = agent!.target;
      const systemTrust = await callAgent(untrusting, TEST_KEY, 'fence', { term: 99 });
      assert.equal(systemTrust.ok, false);
      assert.equal(systemTrust.httpStatus, undefined, 'no HTTP exchange happened');
      assert.match(systemTrust.reason, /^agent unreachable: https:\/\/127\.0\.0\.1:\d+: (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE): the agent's certificate is not one the cluster CA this caller trusts issued/);
      // Another cluster's CA (a CA of its own, as another deployment would have) is refused too.
      const other = await ensureCa(join(workDir, 'other-ca'), 'other');
      const otherCa = await readFile(other.cert, 'utf8');
      const wrongCa = await callAgent({ ...agent!.target, ca: otherCa }, TEST_KEY, 'fence', { term: 99 });
      assert.equal(wrongCa.ok, false);
      assert.match(wrongCa.reason, /^agent unreachable: .*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)/);
      await primaryStillServes();
      assert.equal((await callAgent(agent!.target, TEST_KEY, 'status', {}))['term'], termBefore, 'no fence reached the agent');
    });

    test('a correctly signed action sent in clear text is refused with 401 before its body is read; health stays plain HTTP', async () => {
      const termBefore = (await callAgent(agent!.target, TEST_KEY, 'status', {}))['term'];
      const body = JSON.stringify({ term: 99 });
      const res = await fetch(`${agent!.url}/v1/actions/fence`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...signRequest(TEST_KEY, A1, 'POST', '/v1/actions/fence', body) } });
      assert.equal(res.status, 401);
      assert.match(((await res.json()) as { reason: string }).reason, /^unencrypted: this agent takes actions over HTTPS only/);
      const viaCallAgent = await callAgent({ ...agent!.target, url: agent!.url }, TEST_KEY, 'fence', { term: 99 });
      assert.match(viaCallAgent.reason, /^unencrypted/);
      const health = await fetch(`${agent!.url}/health`, { method: 'OPTIONS' });
      assert.ok(health.status < 500, `a public route answers over plain HTTP (${health.status})`);
      await primaryStillServes();
      assert.equal((await callAgent(agent!.target, TEST_KEY, 'status', {}))['term'], termBefore, 'no fence reached the agent');
    });
  });

  describe('each node has its own key, and a rotation needs no restart', () => {
    const own: Partial<Record<'a1' | 'a2', TestAgent>> = {};
    const signer = () => keyDirSigningKey(agentKeysDir(workDir));
    const keyOf = async (node: 'a1' | 'a2') => Buffer.from((await readFile(agentKeyPath(workDir, 'auth', node), 'utf8')).split('\n')[0]!.trim());

    before(async () => {
      // Both drive a1's server (they answer status only here); each reads its own key file.
      for (const name of ['a1', 'a2'] as const) {
        const keyFile = await ensureAgentKeyFile(workDir, 'auth', name);
        const node = { ...cluster!.nodes[0]!, name };
        own[name] = await startTestAgent({ cluster: 'auth', node, bindir: cluster!.bindir, osUser: cluster!.osUser, agentPort: OWN_KEY_PORTS[name], workDir, extra: { keyFile, stateDir: join(workDir, `own-key-${name}`) } });
      }
    });
    after(async () => {
      await own.a1?.close();
      await own.a2?.close();
    });

    test('the key files are mode 0600, one per node, and no two nodes share a key', async () => {
      const { stat } = await import('node:fs/promises');
      for (const name of ['a1', 'a2'] as const) assert.equal((await stat(agentKeyPath(workDir, 'auth', name))).mode & 0o777, 0o600, name);
      assert.ok(!(await keyOf('a1')).equals(await keyOf('a2')));
    });

    test("a request signed with node a1's key is refused by a2's agent, though it names a2; each agent answers what is signed with its own key", async () => {
      const crossed = await callAgent(own.a2!.target, await keyOf('a1'), 'fence', { term: 1 });
      assert.equal(crossed.httpStatus, 401);
      assert.match(crossed.reason, /^bad signature: the request was not signed with this node's agent key/);
      // And the shared test key of the older layout opens neither.
      assert.equal((await callAgent(own.a1!.target, TEST_KEY, 'status', {})).httpStatus, 401);
      for (const name of ['a1', 'a2'] as const) {
        const r = await callAgent(own[name]!.target, signer(), 'status', {});
        assert.equal(r.ok, true, `${name}: ${r.reason}`);
      }
      await primaryStillServes();
    });

    test('after a rotation of a1\'s key file the new key is accepted at once (the agent reads its file again), the previous one still, and one that is neither is refused', async () => {
      const previous = await keyOf('a1');
      await rotateAgentKeyFile(workDir, 'auth', 'a1');
      const current = await keyOf('a1');
      assert.ok(!current.equals(previous));
      const signedNew = await callAgent(own.a1!.target, signer(), 'status', {});
      assert.equal(signedNew.ok, true, signedNew.reason);
      assert.ok(own.a1!.lines.some((l) => l.msg === 'agent key reloaded'), 'the agent read its key file again');
      const signedPrevious = await callAgent(own.a1!.target, previous, 'status', {});
      assert.equal(signedPrevious.ok, true, `the previous key: ${signedPrevious.reason}`);
      const neither = await callAgent(own.a1!.target, Buffer.from('n'.repeat(64)), 'status', {});
      assert.equal(neither.httpStatus, 401);
      assert.match(neither.reason, /^bad signature/);
    });

    test('no key reaches the agents\' logs', async () => {
      const all = JSON.stringify([...own.a1!.lines, ...own.a2!.lines]);
      for (const name of ['a1', 'a2'] as const) {
        for (const line of (await readFile(agentKeyPath(workDir, 'auth', name), 'utf8')).split('\n').filter(Boolean)) assert.ok(!all.includes(line), `${name}'s key leaked into a log`);
      }
    });
  });
});
