import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import pg from 'pg';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { startEndpointProxy, type EndpointProxy } from '../../lib/endpoints/proxy.ts';
import type { EndpointTarget } from '../../lib/endpoints/driver.ts';
import { waitFor } from '../support/waitFor.ts';

const BASE = 19050;
const WRITER_PORT = 19055;
const READER_PORT = 19056;
const SHORT_WRITER_PORT = 19057;
const SHORT_READER_PORT = 19058;
const NOTHING_LISTENS = 19059;
const gone: EndpointTarget = { name: 'gone', host: '127.0.0.1', port: NOTHING_LISTENS };

/** A client patient enough for a held connection (the endpoint holds up to 10 s by default). */
function client(port: number): pg.Client {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 20_000 });
  c.on('error', () => {});
  return c;
}

async function whereAmI(c: pg.Client): Promise<{ port: number; recovery: boolean }> {
  const r = await c.query<{ port: number; recovery: boolean }>('SELECT inet_server_port() AS port, pg_is_in_recovery() AS recovery');
  return r.rows[0]!;
}

describe('endpoints hold a new connection while there is nowhere to send it', () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;
  let proxy: EndpointProxy | undefined;
  let short: EndpointProxy | undefined;
  let pg1: EndpointTarget, pg2: EndpointTarget;
  const open: pg.Client[] = [];
  /** Only clients that connected are ended after: end() on a refused one never settles. */
  const use = (port: number) => {
    const c = client(port);
    c.once('connect', () => open.push(c));
    return c;
  };

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-hold-');
    cluster = await createLocalCluster({ workDir, basePort: BASE, names: ['pg1', 'pg2'], replication: { mode: 'async', maximumLagOnFailover: 1024 * 1024 } });
    await cluster.waitStreaming();
    [pg1, pg2] = cluster.nodes.map((n) => ({ name: n.name, host: n.host, port: n.port })) as [EndpointTarget, EndpointTarget];
    const started = await startEndpointProxy({ writerPort: WRITER_PORT, readerPort: READER_PORT });
    assert.ok(started.ok, started.ok ? '' : started.reason);
    proxy = started.proxy;
    const s = await startEndpointProxy({ writerPort: SHORT_WRITER_PORT, readerPort: SHORT_READER_PORT, holdMs: 300 });
    assert.ok(s.ok, s.ok ? '' : s.reason);
    short = s.proxy;
  });
  after(async () => {
    for (const c of open) await c.end().catch(() => {});
    await proxy?.close();
    await short?.close();
    await cluster?.stopAll();
    await rm(workDir, { recursive: true, force: true });
  });

  test('with no writer known, a writer connection waits and is handed to the writer once one is applied', async () => {
    await proxy!.apply({ term: 1, writer: null, readers: [] });
    const c = use(WRITER_PORT);
    const connecting = c.connect();
    await waitFor('the connection to be held', () => proxy!.stats().held.writer === 1);
    await proxy!.apply({ term: 2, writer: pg1, readers: [pg2] });
    await connecting;
    assert.deepEqual(await whereAmI(c), { port: pg1.port, recovery: false });
    assert.equal(proxy!.stats().held.writer, 0);
  });

  test('a writer that refuses (crashed) holds the connection until the new primary is applied', async () => {
    await proxy!.apply({ term: 3, writer: gone, readers: [pg2] });
    const c = use(WRITER_PORT);
    const connecting = c.connect();
    await waitFor('the connection to be held', () => proxy!.stats().held.writer === 1);
    // pg2 stands for the promoted standby: the proxy routes, it does not promote.
    await proxy!.apply({ term: 4, writer: pg2, readers: [] });
    await connecting;
    assert.equal((await whereAmI(c)).port, pg2.port);
  });

  test('with no reader and no writer reachable, a reader connection waits for a reader', async () => {
    await proxy!.apply({ term: 5, writer: gone, readers: [gone] });
    const c = use(READER_PORT);
    const connecting = c.connect();
    await waitFor('the connection to be held', () => proxy!.stats().held.reader === 1);
    await proxy!.apply({ term: 5, writer: gone, readers: [pg2] });
    await connecting;
    assert.equal((await whereAmI(c)).port, pg2.port);
  });

  test('past the bound the client gets one clear error, not a hang', async () => {
    await short!.apply({ term: 1, writer: gone, readers: [] });
    await assert.rejects(use(SHORT_WRITER_PORT).connect(), /no primary to connect to within 300 ms/);
    await assert.rejects(use(SHORT_READER_PORT).connect(), /no reader and no primary/);
    assert.equal(short!.stats().holdExpired, 2);
  });

  test('a bad hold bound is refused, naming the field', async () => {
    const bad = await startEndpointProxy({ writerPort: 0, readerPort: 0, holdMs: -1 });
    assert.equal(bad.ok, false);
    assert.match(bad.ok ? '' : bad.reason, /holdMs/);
  });
});
