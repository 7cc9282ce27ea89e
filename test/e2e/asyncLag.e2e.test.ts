import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import { crashNode, roleOf, startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';

async function sql(url: string, text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

describe('async mode: a standby beyond maximumLagOnFailover', () => {
  let p: TestPipeline;
  before(async () => {
    p = await startTestPipeline(17250, { async: true });
  });
  after(async () => {
    await p?.dispose();
  });

  test('is never promoted: the failover takes the standby within the limit, and says why', async () => {
    // pg2 stops receiving WAL; the primary then writes far more than maximumLagOnFailover.
    await sql(p.cluster.connectionString('pg2'), "ALTER SYSTEM SET primary_conninfo = ''");
    await sql(p.cluster.connectionString('pg2'), 'SELECT pg_reload_conf()');
    const limit = p.spec.replication.mode === 'async' ? p.spec.replication.maximumLagOnFailover : 0;
    await sql(p.writerUrl, `CREATE TABLE filler AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, ${Math.ceil((limit * 4) / 1000)}) g`);
    await waitFor('pg3 to have received the filler', async () => {
      const c = new pg.Client({ connectionString: p.cluster.connectionString('pg3') });
      await c.connect();
      try {
        return (await c.query("SELECT to_regclass('filler') IS NOT NULL AS ok")).rows[0].ok as boolean;
      } finally {
        await c.end();
      }
    });
    const seen = p.events.length;
    await crashNode(p, 'pg1');
    const started = await waitFor(
      'a failover to start',
      () => p.events.slice(seen).find((e): e is Extract<DecisionEvent, { type: 'FailoverStarted' }> => e.type === 'FailoverStarted'),
      60_000,
    );
    assert.equal(started.to, 'pg3');
    assert.match(started.reason, /within maximumLagOnFailover/);
    await waitFor('pg3 to be promoted', () => p.events.slice(seen).some((e) => e.type === 'Promoted' && e.node === 'pg3'), 60_000);
    assert.ok(!p.events.some((e) => e.type === 'ActionRequested' && e.intent.action === 'promote' && e.intent.node === 'pg2'), 'pg2 was never asked to promote');
    assert.equal(await roleOf(p, 'pg3'), 'primary');
    // pg2 is re-pointed at pg3 after the promotion (a restart when its settings change): wait for it, don't race it.
    // It may need a rewind and a restart first (it was cut off from WAL): slow under load, seen past 30 s.
    await waitFor('pg2 to follow as a standby', async () => (await roleOf(p, 'pg2')) === 'standby', 90_000);
  });
});
