import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { nodePids, roleOf, signalAll, startTestPipeline, upstreamOf, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { WriteLoad, missingAcked } from '../support/writeLoad.ts';

describe('a silent primary host, and a short stall of it', () => {
  let p: TestPipeline;
  let frozen: number[] = [];
  before(async () => {
    p = await startTestPipeline(17150);
    await WriteLoad.prepare(p.writerUrl);
  });
  after(async () => {
    signalAll(frozen, 'SIGCONT');
    await p?.dispose();
  });

  test('a stall of 1.5 s changes nothing: no failover, no new term', async () => {
    const before = await p.state();
    const seen = p.events.length;
    const pids = await nodePids(p, 'pg1');
    frozen = pids;
    signalAll(pids, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 1_500));
    signalAll(pids, 'SIGCONT');
    frozen = [];
    // Past every timeout (failure window, receivers' timeout, lease): nothing may have happened.
    await waitFor('pg1 to answer again', async () => (await roleOf(p, 'pg1')) === 'primary');
    await new Promise((r) => setTimeout(r, p.spec.timing.fenceWaitMs + 1_000));
    const after = await p.state();
    assert.equal(after!.term, before!.term);
    assert.equal(after!.primary, 'pg1');
    assert.deepEqual(
      p.events.slice(seen).filter((e) => ['FailoverStarted', 'Fenced', 'ActionRequested'].includes(e.type) && !(e.type === 'ActionRequested' && e.intent.action === 'endpoints')),
      [],
    );
  });

  test('a host frozen for good is failed over with nothing acknowledged lost; when it wakes it is fenced, then rewound', async () => {
    const load = new WriteLoad(p.writerUrl);
    load.start();
    await waitFor('writes through the writer endpoint', () => load.acked.length >= 20);
    frozen = await nodePids(p, 'pg1');
    const t0 = Date.now();
    signalAll(frozen, 'SIGSTOP');
    await waitFor('a write acknowledged by another node', () => load.firstAckAfter(t0, p.cluster.nodes[0]!.port) !== null, 60_000);
    const next = (await p.state())!.primary!;
    assert.notEqual(next, 'pg1');
    await waitFor('a few more writes', () => load.acked.length >= 60);
    await load.stop();
    assert.deepEqual(await missingAcked(p.cluster.connectionString(next), load.acked), []);

    await WriteLoad.prepare(p.writerUrl, 'pgvigil_writes_after');
    const wokeAt = Date.now();
    const after = new WriteLoad(p.writerUrl, 'pgvigil_writes_after');
    after.start();
    signalAll(frozen, 'SIGCONT');
    frozen = [];
    // On waking, pg1 finds itself deposed: stopped (by its agent acting on the fence it was sent,
    // or by the control plane fencing a primary of an old term), then rewound onto the new timeline.
    await waitFor('pg1 to stream from the new primary', async () => (await upstreamOf(p, 'pg1')) === next, 90_000);
    const rewound = (e: (typeof p.events)[number]) => e.type === 'ActionSucceeded' && e.intent.action === 'rewind' && e.intent.node === 'pg1';
    await waitFor('the rewind of pg1 in the log', () => p.events.some((e) => e.at >= wokeAt && rewound(e)), 30_000);
    await waitFor('writes after the wake-up', () => after.acked.length >= 20);
    await after.stop();
    const pg1Port = p.cluster.nodes[0]!.port;
    assert.deepEqual(
      after.ackPorts.filter((port) => port === pg1Port),
      [],
      'pg1 served no write after it woke',
    );
    assert.equal(await roleOf(p, 'pg1'), 'standby');
    assert.deepEqual(await missingAcked(p.cluster.connectionString('pg1'), load.acked), []);
    await waitFor('pg1 to replay the writes made after it woke', async () => (await missingAcked(p.cluster.connectionString('pg1'), after.acked, 'pgvigil_writes_after')).length === 0, 30_000);
  });
});
