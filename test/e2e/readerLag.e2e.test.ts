import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import { readDecisions } from '../../lib/store/decisionLog.ts';
import { startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { sqlAt as sql } from '../support/sqlAt.ts';

const LIMIT = 1024 * 1024;

/** Connect through the reader endpoint `n` times, one fresh connection each: the ports that answered. */
async function readerPorts(p: TestPipeline, n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const [row] = await sql<{ port: number }>(p.readerUrl, 'SELECT inet_server_port() AS port');
    ports.push(row!.port);
  }
  return ports;
}

type Requested = Extract<DecisionEvent, { type: 'ActionRequested' }>;
const endpointsRequest = (e: DecisionEvent): e is Requested => e.type === 'ActionRequested' && e.intent.action === 'endpoints';

describe('reader endpoint: a standby beyond readLagLimit gets no reads', () => {
  let p: TestPipeline;
  let pg2Port: number;
  let pg3Port: number;
  before(async () => {
    p = await startTestPipeline(17700, { readLagLimit: LIMIT });
    pg2Port = p.cluster.nodes.find((n) => n.name === 'pg2')!.port;
    pg3Port = p.cluster.nodes.find((n) => n.name === 'pg3')!.port;
    await waitFor('both standbys to serve reads', async () => {
      const ports = new Set(await readerPorts(p, 6));
      return ports.has(pg2Port) && ports.has(pg3Port);
    }, 30_000);
  });
  after(async () => {
    // A paused replay would hold the standby back for the rest of the file's life: resume it before stopping.
    await sql(p?.cluster.connectionString('pg2') ?? '', 'SELECT pg_wal_replay_resume()').catch(() => {});
    await p?.dispose();
  });

  test('pg2 lagging (replay paused) is dropped in the decision that records LagExceeded, and never served while it lags', async () => {
    const seen = p.events.length;
    await sql(p.cluster.connectionString('pg2'), 'SELECT pg_wal_replay_pause()');
    await sql(p.writerUrl, `CREATE TABLE filler AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, ${Math.ceil((LIMIT * 4) / 1000)}) g`);

    await waitFor('LagExceeded for pg2', () => p.events.slice(seen).some((e) => e.type === 'LagExceeded' && e.node === 'pg2'), 30_000);
    // The same decide run that records the lag asks the endpoints to drop pg2: no extra probe round.
    const log = await readDecisions(p.store, 'local');
    if (!log.ok) throw new Error(log.reason);
    const item = log.items.find((i) => i.events.some((e) => e.type === 'LagExceeded' && e.node === 'pg2'));
    assert.ok(item, 'the decision log holds LagExceeded for pg2');
    const drop = item.events.find(endpointsRequest);
    assert.ok(drop, `the decision with LagExceeded also asks for new endpoints (events: ${item.events.map((e) => e.type).join(', ')})`);
    assert.ok(!(drop.intent.readers ?? []).includes('pg2'), `pg2 is not among the readers asked for (${drop.intent.readers?.join(', ')})`);
    // pg3 may lag for a moment too while the filler is written; wait until it alone serves reads.
    await waitFor(
      'the proxy to serve reads from pg3 only',
      () => p.events.some((e) => e.type === 'ActionSucceeded' && e.intent.action === 'endpoints' && e.intent.readers?.join() === 'pg3'),
      30_000,
    );

    const [lag] = await sql<{ paused: boolean }>(p.cluster.connectionString('pg2'), 'SELECT pg_is_wal_replay_paused() AS paused');
    assert.equal(lag!.paused, true, 'pg2 still lags while the reads are made');
    const ports = await readerPorts(p, 40);
    assert.ok(!ports.includes(pg2Port), `no read landed on the lagging pg2 (ports: ${[...new Set(ports)].join(', ')})`);
    assert.ok(ports.every((port) => port === pg3Port), 'every read went to pg3');
  });

  test('pg2 serves reads again once its replay resumes and it catches up', async () => {
    const seen = p.events.length;
    await sql(p.cluster.connectionString('pg2'), 'SELECT pg_wal_replay_resume()');
    await waitFor('LagRecovered for pg2', () => p.events.slice(seen).some((e) => e.type === 'LagRecovered' && e.node === 'pg2'), 30_000);
    const back = await waitFor(
      'an endpoints change listing pg2 again',
      () => p.events.slice(seen).find((e): e is Requested => endpointsRequest(e) && (e.intent.readers ?? []).includes('pg2')),
      30_000,
    );
    await waitFor('the proxy to apply it', () => p.events.some((e) => e.type === 'ActionSucceeded' && e.intent.id === back.intent.id));
    const ports = await readerPorts(p, 10);
    assert.ok(ports.includes(pg2Port), `reads land on pg2 again (ports: ${[...new Set(ports)].join(', ')})`);
    const [row] = await sql<{ n: string }>(p.cluster.connectionString('pg2'), 'SELECT count(*)::text AS n FROM filler');
    assert.equal(row!.n, String(Math.ceil((LIMIT * 4) / 1000)), 'pg2 has replayed the rows written while it was paused');
  });
});
