import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { startEndpointProxy, type EndpointProxy } from '../../lib/endpoints/proxy.ts';
import { createCluster, type Cluster } from '../../lib/client/index.ts';
import { waitFor } from '../support/waitFor.ts';

const BASE = 15620;
const WRITER_PORT = 15630;
const READER_PORT = 15631;

describe('client over a real 3-node async cluster', () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;
  let proxy: EndpointProxy | undefined;
  const clients: Cluster[] = [];
  let ports: { pg1: number; pg2: number; pg3: number };
  const url = (port: number) => `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const open = (o: Parameters<typeof createCluster>[0]) => {
    const c = createCluster(o);
    clients.push(c);
    return c;
  };

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-d-client-');
    cluster = await createLocalCluster({ workDir, basePort: BASE, replication: { mode: 'async', maximumLagOnFailover: 1024 * 1024 } });
    await cluster.waitStreaming();
    const [n1, n2, n3] = cluster.nodes;
    ports = { pg1: n1!.port, pg2: n2!.port, pg3: n3!.port };
    const started = await startEndpointProxy({ host: '127.0.0.1', writerPort: WRITER_PORT, readerPort: READER_PORT });
    assert.ok(started.ok, started.ok ? '' : started.reason);
    proxy = started.proxy;
    const t = (n: typeof n1) => ({ name: n!.name, host: n!.host, port: n!.port });
    await proxy.apply({ term: 1, writer: t(n1), readers: [t(n2), t(n3)] });
    await sqlOnce(ports.pg1, 'CREATE TABLE rw (id int PRIMARY KEY, v text NOT NULL)');
  });
  after(async () => {
    for (const c of clients) await c.end().catch(() => {});
    await proxy?.close();
    await cluster?.stopAll();
    await rm(workDir, { recursive: true, force: true });
  });

  test('read-your-writes through the reader endpoint returns the row just written, 1,000 times out of 1,000', async () => {
    const db = open({ writer: url(WRITER_PORT), reader: { connectionString: url(READER_PORT), max: 4 } });
    const servedBy = new Map<number, number>();
    // Four workers, so the pool holds several reader connections and the endpoint spreads them over both standbys.
    const worker = async (first: number) => {
      for (let i = first; i < first + 250; i++) {
        const w = await db.write('INSERT INTO rw (id, v) VALUES ($1, $2)', [i, `row ${i}`]);
        assert.equal(w.rowCount, 1);
        const r = await db.read<{ v: string; port: number }>('SELECT v, inet_server_port() AS port FROM rw WHERE id = $1', [i], { after: w.commitLsn });
        assert.deepEqual(r.rows.map((row) => row.v), [`row ${i}`], `try ${i}: the row written at ${w.commitLsn} was not read`);
        const port = r.rows[0]!.port;
        servedBy.set(port, (servedBy.get(port) ?? 0) + 1);
      }
    };
    await Promise.all([1, 251, 501, 751].map(worker));
    // The guarantee must come from the standbys catching up, not from quietly reading the primary.
    assert.ok((servedBy.get(ports.pg2) ?? 0) > 0 && (servedBy.get(ports.pg3) ?? 0) > 0, `served by ${JSON.stringify([...servedBy])}`);
    assert.equal(db.stats().writes, 1000);
  });

  test('read-your-writes direct to a standby, and a transaction\'s commit is read back', async () => {
    const db = open({ writer: url(ports.pg1), reader: url(ports.pg2) });
    for (let i = 2001; i <= 2200; i++) {
      const { commitLsn } = await db.write('INSERT INTO rw (id, v) VALUES ($1, $2)', [i, `row ${i}`]);
      const r = await db.read<{ v: string }>('SELECT v FROM rw WHERE id = $1', [i], { after: commitLsn });
      assert.deepEqual(r.rows, [{ v: `row ${i}` }]);
    }
    const { value, commitLsn } = await db.transaction(async (tx) => {
      await tx.query('INSERT INTO rw (id, v) VALUES ($1, $2)', [2300, 'tx a']);
      await tx.query('INSERT INTO rw (id, v) VALUES ($1, $2)', [2301, 'tx b']);
      return 'done';
    });
    assert.equal(value, 'done');
    const r = await db.read<{ n: number }>('SELECT count(*)::int AS n FROM rw WHERE id IN (2300, 2301)', [], { after: commitLsn });
    assert.deepEqual(r.rows, [{ n: 2 }]);
  });

  test('a standby with replay paused is never read stale: reads with `after` fall back to the primary', async () => {
    const db = open({ writer: url(ports.pg1), reader: url(ports.pg3), readYourWrites: { timeoutMs: 100, pollMs: 5 } });
    await sqlOnce(ports.pg3, 'SELECT pg_wal_replay_pause()');
    try {
      await waitFor('replay paused on pg3', async () => {
        const [row] = await sqlOnce<{ s: string }>(ports.pg3, 'SELECT pg_get_wal_replay_pause_state() AS s');
        return row?.s === 'paused';
      });
      for (let i = 3001; i <= 3020; i++) {
        const { commitLsn } = await db.write('INSERT INTO rw (id, v) VALUES ($1, $2)', [i, `row ${i}`]);
        const r = await db.read<{ v: string; port: number }>('SELECT v, inet_server_port() AS port FROM rw WHERE id = $1', [i], { after: commitLsn });
        assert.deepEqual(r.rows, [{ v: `row ${i}`, port: ports.pg1 }]);
      }
      // Without `after` the paused standby does answer, and is stale: what the fallback protects against.
      const stale = await db.read('SELECT v FROM rw WHERE id = $1', [3020]);
      assert.equal(stale.rowCount, 0);
      assert.equal(db.stats().writerReads, 20);
    } finally {
      await sqlOnce(ports.pg3, 'SELECT pg_wal_replay_resume()');
    }
  });

  test('a reader that cannot be reached sends reads to the writer', async () => {
    const db = open({ writer: url(ports.pg1), reader: url(15699) });
    const r = await db.read<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
    assert.deepEqual(r.rows, [{ recovery: false }]);
    assert.equal(db.stats().writerReads, 1);
  });

  test('a reader that accepts connections and never answers (a frozen host) sends reads to the writer', async () => {
    const frozen = net.createServer(() => {});
    await new Promise<void>((resolve) => frozen.listen(15698, '127.0.0.1', resolve));
    try {
      const db = open({ writer: url(ports.pg1), reader: url(15698) });
      const r = await db.read<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
      assert.deepEqual(r.rows, [{ recovery: false }]);
      assert.equal(db.stats().writerReads, 1);
    } finally {
      frozen.close();
    }
  });

  test('a transaction that throws is rolled back and leaves nothing', async () => {
    const db = open({ writer: url(ports.pg1), reader: url(ports.pg2) });
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO rw (id, v) VALUES ($1, $2)', [4001, 'never']);
        await tx.query('INSERT INTO rw (id, v) VALUES ($1, $2)', [4002, 'never']);
        throw new Error('application changed its mind');
      }),
      /application changed its mind/,
    );
    const rows = await sqlOnce(ports.pg1, 'SELECT id FROM rw WHERE id IN (4001, 4002)');
    assert.deepEqual(rows, []);
    // A failed statement rolls back too, and the pooled session stays usable.
    await assert.rejects(db.transaction(async (tx) => tx.query('INSERT INTO rw (id, v) VALUES (4003, NULL)')), /null value/);
    const w = await db.write('INSERT INTO rw (id, v) VALUES ($1, $2)', [4004, 'after rollback']);
    assert.equal(w.rowCount, 1);
    assert.deepEqual(await sqlOnce(ports.pg1, 'SELECT id FROM rw WHERE id BETWEEN 4001 AND 4004 ORDER BY id'), [{ id: 4004 }]);
  });
});
