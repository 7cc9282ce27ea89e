import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createCluster, InterruptedCommitError, type Cluster } from '../../lib/client/index.ts';
import { crashNode, startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { LostCommitRelay } from '../support/lostCommitRelay.ts';
import { waitFor } from '../support/waitFor.ts';

const RELAY_PORT = 19025;

async function sql<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  c.on('error', () => {});
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end().catch(() => {});
  }
}

describe('the application client across a crash failover', () => {
  let p: TestPipeline;
  let relay: LostCommitRelay;
  const clients: Cluster[] = [];
  before(async () => {
    p = await startTestPipeline(19020);
    relay = new LostCommitRelay(p.proxy.addresses.writer);
    await relay.listen(RELAY_PORT);
    await sql(p.writerUrl, 'CREATE TABLE fate (id int PRIMARY KEY)');
  });
  after(async () => {
    for (const c of clients) await c.end().catch(() => {});
    await relay?.close();
    await p?.dispose();
  });

  test('reads and connections are tried again; each interrupted COMMIT is reported committed or not, as the new primary has it', async () => {
    const pg1 = p.cluster.connectionString('pg1');
    const viaRelay = createCluster({ writer: { connectionString: `postgresql://postgres@127.0.0.1:${RELAY_PORT}/postgres`, max: 2 }, reader: p.readerUrl });
    const direct = createCluster({ writer: p.writerUrl, reader: p.readerUrl });
    clients.push(viaRelay, direct);

    // T1 commits on pg1 and reaches both standbys, but its client never hears the answer.
    relay.loseNextCommit();
    const t1 = viaRelay.transaction((tx) => tx.query('INSERT INTO fate VALUES (1)'));
    for (const name of ['pg2', 'pg3']) {
      await waitFor(`T1 replayed on ${name}`, async () => (await sql(p.cluster.connectionString(name), 'SELECT 1 FROM fate WHERE id = 1')).length === 1);
    }
    assert.ok(relay.swallowed, 'the COMMIT answer was lost on the way');

    // T2's COMMIT waits for a synchronous standby that never receives it: its walsenders are stopped.
    let walsenders: number[] = [];
    const t2 = direct
      .transaction(async (tx) => {
        await tx.query('INSERT INTO fate VALUES (2)');
        walsenders = (await sql<{ pid: number }>(pg1, 'SELECT pid FROM pg_stat_replication')).map((r) => r.pid);
        for (const pid of walsenders) process.kill(pid, 'SIGSTOP');
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    await waitFor('T2 waiting for its synchronous standby', async () => (await sql(pg1, "SELECT 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep'")).length === 1);

    let reads = 0;
    const readErrors: string[] = [];
    let reading = true;
    const readLoop = (async () => {
      while (reading) {
        await direct.read('SELECT count(*) FROM fate').then(
          () => reads++,
          (e: Error) => readErrors.push(e.message),
        );
      }
    })();

    await crashNode(p, 'pg1');
    for (const pid of walsenders) process.kill(pid, 'SIGKILL');

    const r1 = await t1;
    assert.equal(r1.interrupted, true, 'T1 is reported committed after its COMMIT was interrupted');
    const e2 = await t2;
    assert.ok(e2 instanceof InterruptedCommitError, `T2 is reported as an interrupted commit, not ${String(e2)}`);
    assert.equal(e2.committed, false, 'T2 is reported not committed');

    const readsAfterCrash = reads;
    const w = await direct.write('INSERT INTO fate VALUES (3)');
    assert.ok(w.commitLsn);
    await waitFor('reads go on after the failover', () => reads > readsAfterCrash + 10);
    reading = false;
    await readLoop;

    const next = (await p.state())!.primary!;
    assert.notEqual(next, 'pg1');
    const ids = (await sql<{ id: number }>(p.cluster.connectionString(next), 'SELECT id FROM fate ORDER BY id')).map((r) => r.id);
    assert.deepEqual(ids, [1, 3], 'the new primary has T1 and the later write, not T2: as the client reported');
    assert.deepEqual(readErrors, [], 'no read failed across the failover');
  });
});
