import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FenceMarker } from '../../lib/agent/fenceMarker.ts';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { startTestAgent, type TestAgent } from '../support/agentHarness.ts';
import { waitFor } from '../support/waitFor.ts';

const BASE = 15670;
const AGENT_BASE = 15680;
const names = ['h1', 'h2'] as const;
type Name = (typeof names)[number];

describe('health checks on real agents: h1 primary, h2 synchronous standby (ANY 1)', () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;
  const agents: Partial<Record<Name, TestAgent>> = {};

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-c-health-');
    cluster = await createLocalCluster({ workDir, basePort: BASE, names: [...names], replication: { mode: 'synchronous', quorum: 1 } });
    for (const [i, n] of names.entries()) {
      agents[n] = await startTestAgent({ cluster: 'health', node: cluster.nodes[i]!, bindir: cluster.bindir, osUser: cluster.osUser, agentPort: AGENT_BASE + i, workDir });
    }
  });
  after(async () => {
    for (const a of Object.values(agents)) await a?.close();
    await cluster?.stopAll();
    await rm(workDir, { recursive: true, force: true });
  });

  const check = async (node: Name, path: string, method = 'OPTIONS') => (await fetch(`${agents[node]!.url}${path}`, { method })).status;
  const status = async (node: Name, path = '/patroni') => {
    const r = await fetch(`${agents[node]!.url}${path}`);
    return { code: r.status, doc: (await r.json()) as Record<string, unknown> };
  };

  test('/primary is 200 on the primary only, /replica on the streaming standby only (OPTIONS, HEAD and GET alike)', async () => {
    for (const method of ['OPTIONS', 'HEAD', 'GET']) {
      assert.equal(await check('h1', '/primary', method), 200, `${method} /primary on h1`);
      assert.equal(await check('h2', '/primary', method), 503, `${method} /primary on h2`);
      assert.equal(await check('h1', '/replica', method), 503, `${method} /replica on h1`);
      assert.equal(await check('h2', '/replica', method), 200, `${method} /replica on h2`);
    }
    for (const p of ['/', '/leader', '/read-write', '/read-only', '/health', '/readiness', '/liveness']) assert.equal(await check('h1', p), 200, `h1 ${p}`);
    for (const p of ['/replica?lag=1MB', '/read-only', '/quorum', '/health', '/readiness', '/liveness']) assert.equal(await check('h2', p), 200, `h2 ${p}`);
    assert.equal(await check('h2', '/sync'), 503, 'ANY 1 makes h2 a quorum standby, as Patroni answers /sync in quorum mode');
    assert.equal(await check('h2', '/replica?tag_zone=a'), 503, 'the agent holds no tags');
    assert.equal(await check('h1', '/metrics-not-a-health-path'), 405, 'other paths are left to the other routes');
  });

  test('GET /patroni: Patroni field names, pgvigil term, nothing secret', async () => {
    const p = await status('h1');
    assert.equal(p.code, 200);
    assert.equal(p.doc['state'], 'running');
    assert.equal(p.doc['role'], 'primary');
    assert.equal(typeof p.doc['server_version'], 'number');
    assert.equal(typeof (p.doc['xlog'] as { location: unknown }).location, 'number');
    assert.equal(p.doc['timeline'], 1);
    const repl = p.doc['replication'] as { application_name: string; state: string; sync_state: string }[];
    assert.deepEqual(repl.map((r) => [r.application_name, r.state, r.sync_state]), [['h2', 'streaming', 'quorum']]);
    const s = await status('h2', '/replica');
    assert.equal(s.code, 200);
    assert.equal(s.doc['role'], 'replica');
    assert.equal(s.doc['replication_state'], 'streaming');
    assert.equal(s.doc['quorum_standby'], true);
    const xlog = s.doc['xlog'] as Record<string, unknown>;
    assert.deepEqual(Object.keys(xlog).sort(), ['paused', 'received_location', 'replayed_location', 'replayed_timestamp']);
    assert.deepEqual((s.doc['pgvigil'] as Record<string, unknown>)['fenced'], null);
    assert.doesNotMatch(JSON.stringify([p.doc, s.doc]), /conninfo|password|host=|pgvigil-test-agent-key/);
  });

  test('?lag=1MB: a standby whose replay is paused behind more than 1 MB answers 503, and 200 once it has caught up', async () => {
    await sqlOnce(BASE + 1, 'SELECT pg_wal_replay_pause()');
    try {
      await sqlOnce(BASE, 'CREATE TABLE IF NOT EXISTS health_lag (x text)');
      await sqlOnce(BASE, "INSERT INTO health_lag SELECT repeat('x', 1000) FROM generate_series(1, 3000)");
      await waitFor('h2 to answer 503 on /replica?lag=1MB', async () => (await check('h2', '/replica?lag=1MB')) === 503, 15_000);
      assert.equal(await check('h2', '/replica'), 200, 'without lag= a streaming standby still qualifies');
      assert.equal(await check('h2', '/replica?lag=1GB'), 200);
      const doc = (await status('h2')).doc;
      assert.equal((doc['xlog'] as { paused: boolean }).paused, true);
      assert.ok(((doc['pgvigil'] as { lag_bytes: number }).lag_bytes) > 1 << 20, 'the document shows the lag');
    } finally {
      await sqlOnce(BASE + 1, 'SELECT pg_wal_replay_resume()');
    }
    await waitFor('h2 to answer 200 on /replica?lag=1MB again', async () => (await check('h2', '/replica?lag=1MB')) === 200, 15_000);
  });

  test('a fenced primary answers 503 on /primary at once, while PostgreSQL still runs; the guard then stops it', async () => {
    assert.equal(await check('h1', '/primary'), 200);
    // What the fence action does first (and demote and self-fencing do too): the marker.
    await new FenceMarker(join(workDir, 'agent-h1')).set(7, 'fence action at term 7');
    const running = (await cluster!.postmasterPid('h1')) !== null;
    assert.equal(await check('h1', '/primary'), 503, 'the very next check after the marker');
    assert.equal(await check('h1', '/read-only'), 503);
    assert.ok(running, 'PostgreSQL was still running when the marker went down');
    const doc = (await status('h1', '/primary')).doc;
    assert.match(String((doc['pgvigil'] as { reason: string }).reason), /fenced at term 7/);
    await waitFor('the fence guard to stop h1', async () => (await check('h1', '/health')) === 503, 10_000);
    assert.equal(await check('h1', '/primary'), 503);
    assert.equal(await check('h1', '/liveness'), 200, 'the agent itself is alive');
  });
});
