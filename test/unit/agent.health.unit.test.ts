import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { judge, parseLag, standbyLagBytes, statusDocument, syncStateOf, type HealthSnapshot } from '../../lib/agent/health/nodeHealth.ts';
import type { ServerState } from '../../lib/agent/serverState.ts';

const server = (s: Partial<ServerState>): ServerState => ({
  running: true,
  answering: true,
  why: null,
  inRecovery: false,
  versionNum: 150010,
  timeline: 2,
  walLsn: '0/5000148',
  receiveLsn: null,
  replayLsn: null,
  receiver: null,
  primaryConninfo: null,
  primarySlotName: null,
  ...s,
});

const primary: HealthSnapshot = {
  cluster: 'orders',
  node: 'pg1',
  server: server({}),
  extras: { postmasterStartTime: '2026-11-24 01:55:00+00', replayPaused: null, replayedTimestamp: null, latestEndLsn: null, synchronousStandbyNames: 'ANY 1 (pg1, pg2, pg3)', systemIdentifier: '7268616322854375442', replication: [] },
  fenced: null,
  term: 2,
  pendingActions: 0,
};

const standby = (s: Partial<ServerState> = {}, latestEndLsn: string | null = '0/5000148', names = 'ANY 1 (pg1, pg2, pg3)'): HealthSnapshot => ({
  ...primary,
  node: 'pg2',
  server: server({ inRecovery: true, walLsn: '0/5000148', receiveLsn: '0/5000148', replayLsn: '0/5000148', receiver: { status: 'streaming', senderHost: '127.0.0.1', senderPort: 15432 }, primaryConninfo: 'host=127.0.0.1 password=secret', ...s }),
  extras: { ...primary.extras!, replayPaused: false, latestEndLsn, synchronousStandbyNames: names },
});

const code = (path: string, snap: HealthSnapshot, query = '') => judge(path, new URLSearchParams(query), snap)?.status ?? null;

describe('health checks: a snapshot gives a status code (Patroni paths)', () => {
  test('the primary: 200 on the primary paths, /read-only and /health; 503 on the standby paths', () => {
    for (const p of ['/', '/primary', '/master', '/leader', '/read-write', '/read-only', '/health', '/readiness', '/liveness', '/patroni']) assert.equal(code(p, primary), 200, p);
    for (const p of ['/replica', '/sync', '/async', '/quorum']) assert.equal(code(p, primary), 503, p);
  });

  test('a fenced primary answers 503 on every routing path at once, while PostgreSQL still runs', () => {
    const fenced = { ...primary, fenced: { term: 3, why: 'fence action at term 3', at: '2026-11-24T01:56:00Z' } };
    for (const p of ['/', '/primary', '/leader', '/read-write', '/read-only', '/readiness', '/replica']) assert.equal(code(p, fenced), 503, p);
    assert.equal(code('/health', fenced), 200, '/health says only that PostgreSQL is up');
    assert.match(judge('/primary', new URLSearchParams(), fenced)!.reason, /fenced at term 3/);
  });

  test('a primary PostgreSQL that is down, starting or shutting down is no primary', () => {
    assert.equal(code('/primary', { ...primary, server: server({ running: false, answering: false, inRecovery: null, why: 'not running' }) }), 503);
    assert.equal(code('/primary', { ...primary, server: server({ answering: false, inRecovery: null, why: 'FATAL: the database system is shutting down' }) }), 503);
    assert.equal(code('/health', { ...primary, server: server({ answering: false, inRecovery: null, why: 'the database system is starting up' }) }), 503);
  });

  test('a streaming standby: 200 on /replica and /read-only, 503 on the primary paths', () => {
    for (const p of ['/replica', '/read-only', '/health', '/readiness']) assert.equal(code(p, standby()), 200, p);
    for (const p of ['/', '/primary', '/leader', '/read-write']) assert.equal(code(p, standby()), 503, p);
  });

  test('a standby whose WAL receiver is not streaming is no replica for the balancer', () => {
    const cut = standby({ receiver: null });
    assert.equal(code('/replica', cut), 503);
    assert.equal(code('/read-only', cut), 503);
    assert.equal(code('/health', cut), 200);
    assert.equal(code('/replica', standby({ receiver: { status: 'starting', senderHost: null, senderPort: null } })), 503);
  });

  test('?lag= is the bytes left to replay up to the primary end of WAL the standby last heard of', () => {
    const behind = standby({ receiveLsn: '0/5100000', replayLsn: '0/5000000' }, '0/5200000');
    assert.equal(standbyLagBytes(behind), 0x200000, 'latest_end_lsn − replayed');
    assert.equal(standbyLagBytes(behind, 'write'), 0x100000, 'latest_end_lsn − received');
    assert.equal(code('/replica', behind, 'lag=1MB'), 503);
    assert.equal(code('/replica', behind, 'lag=2MB'), 200);
    assert.equal(code('/replica', behind, 'lag=2097151'), 503);
    assert.equal(code('/replica', behind, 'lag=2048kB'), 200);
    assert.equal(code('/replica', behind), 200, 'no lag asked: any streaming standby');
    assert.equal(code('/readiness', behind, 'lag=1MB'), 503);
    assert.equal(code('/readiness', behind, 'lag=1MB&mode=write'), 200);
    assert.equal(code('/replica', behind, 'lag=lots'), 503, 'a lag it cannot read is not honoured with a 200');
    assert.equal(code('/replica', standby({}, null), 'lag=0'), 200, 'no latest_end_lsn yet: received vs replayed');
  });

  test('lag sizes as Patroni reads them: bytes, kB, MB, GB, TB (1024-based)', () => {
    assert.deepEqual(['1048576', '1024kB', '1MB', '1GB', '2TB', '0'].map(parseLag), [1 << 20, 1 << 20, 1 << 20, 1 << 30, 2 * 1024 ** 4, 0]);
    assert.deepEqual(['1mb', '1.5MB', '-1', 'MB', ''].map(parseLag), [null, null, null, null, null]);
  });

  test('tag_key=value: the agent holds no tags, so a replica check asking for one is 503; primary paths ignore tags', () => {
    assert.equal(code('/replica', standby(), 'tag_zone=a'), 503);
    assert.equal(code('/read-only', primary, 'tag_zone=a'), 503);
    assert.equal(code('/primary', primary, 'tag_zone=a'), 200);
    assert.equal(code('/leader', primary, 'tag_nofailover=false'), 200);
  });

  test('replication_state=streaming matches a streaming standby, anything else does not', () => {
    assert.equal(code('/replica', standby(), 'replication_state=streaming'), 200);
    assert.equal(code('/replica', standby(), 'replication_state=in%20archive%20recovery'), 503);
  });

  test('sync, quorum and async from synchronous_standby_names as PostgreSQL would list this standby', () => {
    assert.deepEqual([syncStateOf('ANY 1 (pg1, pg2, pg3)', 'pg2'), syncStateOf('FIRST 1 (pg2, pg3)', 'pg2'), syncStateOf('FIRST 1 (pg2, pg3)', 'pg3')], ['quorum', 'sync', 'potential']);
    assert.deepEqual([syncStateOf('2 (pg3, "PG2")', 'pg2'), syncStateOf('pg3, pg2', 'pg2'), syncStateOf('', 'pg2'), syncStateOf('*', 'pg2'), syncStateOf('any 1 (PG2)', 'pg2')], ['async', 'potential', 'async', 'sync', 'quorum']);
    assert.equal(code('/quorum', standby()), 200);
    assert.equal(code('/sync', standby()), 503, 'ANY k lists quorum standbys, as Patroni answers /sync in quorum mode');
    assert.equal(code('/async', standby()), 503);
    assert.equal(code('/sync', standby({}, null, 'FIRST 1 (pg2, pg3)')), 200);
    assert.equal(code('/async', standby({}, null, '')), 200);
    assert.equal(code('/read-only-sync', primary), 200);
    assert.equal(code('/read-only-quorum', standby()), 200);
  });

  test('paths that are no health check are left to the next route', () => {
    assert.equal(code('/metrics', primary), null);
    assert.equal(code('/v1/actions/status', primary), null);
  });
});

describe('the status document: Patroni field names, no secrets', () => {
  test('a primary: state, role, server_version, xlog.location in bytes, timeline, pgvigil term and fence', () => {
    const doc = statusDocument(primary, judge('/patroni', new URLSearchParams(), primary));
    assert.equal(doc['state'], 'running');
    assert.equal(doc['role'], 'primary');
    assert.equal(doc['server_version'], 150010);
    assert.deepEqual(doc['xlog'], { location: 0x5000148 });
    assert.equal(doc['timeline'], 2);
    assert.deepEqual(doc['patroni'], { scope: 'orders', name: 'pg1' });
    assert.deepEqual(doc['pgvigil'], { term: 2, fenced: null, pending_actions: 0, reason: 'status' });
  });

  test('a standby: received/replayed locations, paused, replication_state, quorum_standby; never its conninfo', () => {
    const snap = standby({ receiveLsn: '0/5100000', replayLsn: '0/5000000' }, '0/5200000');
    const doc = statusDocument(snap, null);
    assert.equal(doc['role'], 'replica');
    assert.deepEqual(doc['xlog'], { received_location: 0x5100000, replayed_location: 0x5000000, replayed_timestamp: null, paused: false });
    assert.equal(doc['replication_state'], 'streaming');
    assert.equal(doc['quorum_standby'], true);
    assert.equal((doc['pgvigil'] as Record<string, unknown>)['lag_bytes'], 0x200000);
    assert.doesNotMatch(JSON.stringify(doc), /secret|password|conninfo/);
  });
});
