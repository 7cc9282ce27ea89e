import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crashNode, roleOf, startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { ConnectPerTxLoad } from '../support/connectPerTxLoad.ts';
import { waitFor } from '../support/waitFor.ts';
import { WriteLoad, missingAcked } from '../support/writeLoad.ts';

describe('a crash failover through the writer endpoint: new connections are held, not refused', () => {
  let p: TestPipeline;
  before(async () => {
    p = await startTestPipeline(19010);
  });
  after(async () => {
    await p?.dispose();
  });

  test('a client opening a connection per write sees no connect error; the held connections reach the new primary', async () => {
    await WriteLoad.prepare(p.writerUrl);
    const load = new ConnectPerTxLoad(p.writerUrl);
    load.start();
    await waitFor('writes through the writer endpoint', () => load.acked.length >= 20);

    const killedAt = Date.now();
    const oldPort = p.cluster.nodes[0]!.port;
    await crashNode(p, 'pg1');
    await waitFor('a write acknowledged by the new primary', () => load.ackTimes.some((t, i) => t >= killedAt && load.ackPorts[i] !== oldPort), 60_000);
    const acked = load.acked.length;
    await waitFor('more writes on the new primary', () => load.acked.length >= acked + 20, 30_000);
    await load.stop();

    const next = (await p.state())!.primary!;
    assert.notEqual(next, 'pg1');
    assert.equal(await roleOf(p, next), 'primary');
    assert.deepEqual(load.connectErrors, [], 'no connection attempt failed: the endpoint held them until the new primary');
    assert.ok(p.proxy.stats().handedOver >= 1, 'at least one connection was held while no primary answered and then handed over');
    // A write in flight on the crashed primary may fail (unavoidable); at most the one in flight at the crash.
    assert.ok(load.statementErrors.length <= 1, `statement errors: ${load.statementErrors.join('; ')}`);
    assert.deepEqual(await missingAcked(p.cluster.connectionString(next), load.acked), [], 'every acknowledged write is on the new primary');
  });
});
