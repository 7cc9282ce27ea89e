import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crashNode, roleOf, startTestPipeline, upstreamOf, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { waitExplained } from '../support/decisionCount.ts';
import { WriteLoad, missingAcked } from '../support/writeLoad.ts';

describe('crash of the primary: postmaster and agent SIGKILLed', () => {
  let p: TestPipeline;
  before(async () => {
    p = await startTestPipeline(17100);
  });
  after(async () => {
    await p?.dispose();
  });

  test('a standby takes over, every acknowledged write survives, the other standby follows, the old primary rejoins', async () => {
    await WriteLoad.prepare(p.writerUrl);
    const load = new WriteLoad(p.writerUrl);
    load.start();
    await waitFor('writes through the writer endpoint', () => load.acked.length >= 20);

    const killedAt = Date.now();
    await crashNode(p, 'pg1');
    const ackedBefore = load.acked.length;

    await waitFor('a write acknowledged by another node', () => load.firstAckAfter(killedAt, p.cluster.nodes[0]!.port) !== null, 60_000);
    await waitFor('more writes on the new primary', () => load.acked.length >= ackedBefore + 20, 30_000);
    await load.stop();

    const state = await p.state();
    assert.ok(state, 'state readable');
    const next = state.primary!;
    assert.notEqual(next, 'pg1', 'a standby was promoted');
    assert.equal(await roleOf(p, next), 'primary');
    assert.equal(state.term, 2, 'one change of primary, one new term');
    assert.deepEqual(await missingAcked(p.cluster.connectionString(next), load.acked), [], 'every acknowledged write is on the new primary');

    const other = ['pg2', 'pg3'].find((n) => n !== next)!;
    await waitFor(`${other} to stream from ${next}`, async () => (await upstreamOf(p, other)) === next, 30_000);

    const types: string[] = p.events.map((e) => e.type);
    for (const t of ['FailoverStarted', 'Fenced', 'Promoted', 'FailoverCompleted']) assert.ok(types.includes(t), `history has ${t}`);

    // The old node's agent comes back: pg1 is rewound onto the new timeline and follows.
    const restartedAt = Date.now();
    await p.agents.get('pg1')!.start();
    await waitExplained(p, restartedAt, 'pg1 to stream from the new primary', async () => (await upstreamOf(p, 'pg1')) === next, 90_000);
    assert.equal(await roleOf(p, 'pg1'), 'standby');
    assert.deepEqual(await missingAcked(p.cluster.connectionString('pg1'), load.acked), [], 'the rewound pg1 has every acknowledged write');
  });
});
