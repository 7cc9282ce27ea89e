import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import pg from 'pg';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { startEndpointProxy, type EndpointProxy } from '../../lib/endpoints/proxy.ts';
import type { EndpointTarget } from '../../lib/endpoints/driver.ts';

const BASE = 15600;
const WRITER_PORT = 15610;
const READER_PORT = 15611;
const NOTHING_LISTENS = 15699;

/** A pg client whose connection errors are recorded instead of thrown at the process. */
async function connect(port: number): Promise<{ client: pg.Client; ended: Promise<void> }> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  await client.connect();
  return { client, ended };
}

async function whereAmI(client: pg.Client): Promise<{ port: number; recovery: boolean }> {
  const r = await client.query<{ port: number; recovery: boolean }>('SELECT inet_server_port() AS port, pg_is_in_recovery() AS recovery');
  return r.rows[0]!;
}

/** Resolves when `p` settles, or rejects after a generous bound: the test waits on the condition, not on time. */
function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref())]);
}

describe('endpoint proxy over a real 3-node cluster', () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;
  let proxy: EndpointProxy | undefined;
  let pg1: EndpointTarget, pg2: EndpointTarget, pg3: EndpointTarget;
  const open: pg.Client[] = [];
  const use = async (port: number) => {
    const c = await connect(port);
    open.push(c.client);
    return c;
  };

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-d-proxy-');
    cluster = await createLocalCluster({ workDir, basePort: BASE, replication: { mode: 'async', maximumLagOnFailover: 1024 * 1024 } });
    await cluster.waitStreaming();
    [pg1, pg2, pg3] = cluster.nodes.map((n) => ({ name: n.name, host: n.host, port: n.port })) as [EndpointTarget, EndpointTarget, EndpointTarget];
    // holdMs 0: these cases check refusal; holding is proxyHold.int.test.ts's.
    const started = await startEndpointProxy({ host: '127.0.0.1', writerPort: WRITER_PORT, readerPort: READER_PORT, holdMs: 0 });
    assert.ok(started.ok, started.ok ? '' : started.reason);
    proxy = started.proxy;
    const applied = await proxy.apply({ term: 1, writer: pg1, readers: [pg2, pg3] });
    assert.deepEqual(applied, { ok: true, applied: true });
  });
  after(async () => {
    for (const c of open) await c.end().catch(() => {});
    await proxy?.close();
    await cluster?.stopAll();
    await rm(workDir, { recursive: true, force: true });
  });

  test('the writer port reaches the primary', async () => {
    const { client } = await use(WRITER_PORT);
    assert.deepEqual(await whereAmI(client), { port: pg1.port, recovery: false });
    assert.equal(proxy!.stats().writer.pg1, 1);
  });

  test('the reader port reaches the standbys in turn', async () => {
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) {
      const { client } = await use(READER_PORT);
      const at = await whereAmI(client);
      assert.equal(at.recovery, true);
      seen.push(at.port);
    }
    assert.deepEqual(new Set(seen), new Set([pg2.port, pg3.port]));
    for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1], `connections ${i - 1} and ${i} went to the same standby`);
  });

  test('large results and large statements pass through byte for byte, on several connections at once', async () => {
    const clients = await Promise.all([1, 2, 3, 4].map(() => use(WRITER_PORT)));
    await Promise.all(
      clients.map(async ({ client }, i) => {
        const big = await client.query<{ s: string; digest: string }>(
          "SELECT s, md5(s) AS digest FROM (SELECT string_agg(md5((g * $1)::text), '') AS s FROM generate_series(1, 50000) g) x",
          [i + 1],
        );
        const row = big.rows[0]!;
        assert.equal(row.s.length, 1_600_000);
        assert.equal(createHash('md5').update(row.s).digest('hex'), row.digest);
        const sent = String(i).repeat(1_000_000);
        const echo = await client.query<{ digest: string }>('SELECT md5($1::text) AS digest', [sent]);
        assert.equal(echo.rows[0]!.digest, createHash('md5').update(sent).digest('hex'));
      }),
    );
  });

  test('a change with an older term is ignored', async () => {
    const stale = await proxy!.apply({ term: 0, writer: pg3, readers: [] });
    assert.deepEqual(stale, { ok: true, applied: false });
    const { client } = await use(WRITER_PORT);
    assert.equal((await whereAmI(client)).port, pg1.port);
  });

  test('a new writer cuts every writer-port connection to the old one at once', async () => {
    const a = await use(WRITER_PORT);
    const b = await use(WRITER_PORT);
    assert.equal((await whereAmI(a.client)).port, pg1.port);
    // pg2 stands for the promoted standby: the proxy routes, it does not promote.
    assert.deepEqual(await proxy!.apply({ term: 2, writer: pg2, readers: [pg3] }), { ok: true, applied: true });
    await within(Promise.all([a.ended, b.ended]), 'old writer connections closed');
    await assert.rejects(a.client.query('SELECT 1'));
    assert.equal(proxy!.stats().writer.pg1, undefined);
    const c = await use(WRITER_PORT);
    assert.equal((await whereAmI(c.client)).port, pg2.port);
  });

  test('a reader removed loses its connections; the others keep theirs', async () => {
    await proxy!.apply({ term: 3, writer: pg1, readers: [pg2, pg3] });
    const conns = [await use(READER_PORT), await use(READER_PORT)];
    const ports = await Promise.all(conns.map(async (c) => (await whereAmI(c.client)).port));
    assert.deepEqual(new Set(ports), new Set([pg2.port, pg3.port]));
    await proxy!.apply({ term: 3, writer: pg1, readers: [pg3] });
    const onPg2 = conns[ports.indexOf(pg2.port)]!;
    const onPg3 = conns[ports.indexOf(pg3.port)]!;
    await within(onPg2.ended, 'connection to the removed reader closed');
    assert.equal((await whereAmI(onPg3.client)).port, pg3.port);
    for (let i = 0; i < 3; i++) {
      const { client } = await use(READER_PORT);
      assert.equal((await whereAmI(client)).port, pg3.port);
    }
  });

  test('with no reader listed, the writer serves the reader port', async () => {
    await proxy!.apply({ term: 3, writer: pg1, readers: [] });
    const { client } = await use(READER_PORT);
    assert.deepEqual(await whereAmI(client), { port: pg1.port, recovery: false });
  });

  test('no writer, or a writer that refuses, closes the client promptly', async () => {
    await proxy!.apply({ term: 4, writer: null, readers: [pg2] });
    await assert.rejects(within(connect(WRITER_PORT), 'refusal with no writer'), (err: Error) => !/timed out/.test(err.message));
    await proxy!.apply({ term: 5, writer: { name: 'gone', host: '127.0.0.1', port: NOTHING_LISTENS }, readers: [pg2] });
    await assert.rejects(within(connect(WRITER_PORT), 'refusal of an unreachable writer'), (err: Error) => !/timed out/.test(err.message));
  });

  test('an unreachable reader is skipped for the next one', async () => {
    await proxy!.apply({ term: 6, writer: pg1, readers: [{ name: 'gone', host: '127.0.0.1', port: NOTHING_LISTENS }, pg3] });
    for (let i = 0; i < 2; i++) {
      const { client } = await use(READER_PORT);
      assert.equal((await whereAmI(client)).port, pg3.port);
    }
  });
});
