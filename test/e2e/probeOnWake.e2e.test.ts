import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crashNode, roleOf, startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { WriteLoad, missingAcked } from '../support/writeLoad.ts';
import { readWakes } from '../../lib/store/wakes.ts';

/** The probe's "minute" here: short, so the test waits less; long enough to see what wakes do alone. */
const MINUTE_MS = 15_000;

// The probe as the stack deploys a synchronous cluster: a run each minute until the cluster is
// settled, and a run whenever an agent's wake appears (lib/local/controlLoop.ts, on-wake). What
// a user checks: a quiet cluster is probed briefly, a crashed primary is failed over on its own
// agent's wake, before any minute run, with every acknowledged write kept, and a silent standby
// is found by the next run (nobody wakes for it). The primary's crash comes first: with a
// standby already down, ANY 1 of 2 cannot show which standby holds every commit (no failover).
describe('the on-wake probe, local mode', () => {
  let p: TestPipeline;
  before(async () => {
    p = await startTestPipeline(26400, { probe: { cadence: 'on-wake', minuteMs: MINUTE_MS } });
  });
  after(async () => {
    await p?.dispose();
  });

  /** Until a minute run has come and gone: then no run is due for a minute. */
  const afterMinuteRun = async () => {
    const before = p.loop.probeRuns().byMinute;
    await waitFor('a minute run to start', () => p.loop.probeRuns().byMinute > before, 2 * MINUTE_MS);
    await waitFor('that run to end', () => !p.loop.probeRuns().probing, MINUTE_MS);
    return p.loop.probeRuns();
  };

  test('a healthy cluster: each minute run ends after a round or two', async () => {
    const a = await afterMinuteRun();
    const b = await afterMinuteRun();
    // A settled first round ends the run; a heartbeat write may cost decide a round of its own.
    assert.ok(b.rounds - a.rounds <= 3, `rounds in one quiet minute run: ${b.rounds - a.rounds}`);
    assert.equal(b.byWake, a.byWake, 'no agent woke the probe for a healthy cluster');
  });

  test("the primary's crash is failed over on its agent's wake, before the next minute run, keeping every acknowledged write", async () => {
    await WriteLoad.prepare(p.writerUrl);
    const load = new WriteLoad(p.writerUrl);
    load.start();
    await waitFor('writes through the writer endpoint', () => load.acked.length >= 20);
    const runs = await afterMinuteRun();
    const primary = (await p.state())!.primary!;
    const wakesBefore = await readWakes(p.store, p.spec.cluster, [primary]);
    assert.ok(wakesBefore.ok);

    const killedAt = Date.now();
    const pid = await p.cluster.postmasterPid(primary);
    assert.ok(pid, 'the primary runs');
    // Only PostgreSQL: its agent lives to see it and to wake the probe.
    process.kill(pid, 'SIGKILL');
    await waitFor('the failover to start', () => p.events.some((e) => e.type === 'FailoverStarted'), MINUTE_MS);
    const at = p.loop.probeRuns();
    assert.equal(at.byMinute, runs.byMinute, 'no minute run came between the crash and the failover');
    assert.ok(at.byWake > runs.byWake, 'a wake started the run that failed over');
    const wakes = await readWakes(p.store, p.spec.cluster, [primary]);
    assert.ok(wakes.ok && wakes.wakes.some((w) => w.node === primary && w.at >= killedAt - 1_000), `the primary's agent wrote a wake: ${JSON.stringify(wakes)}`);

    await waitFor('a write acknowledged by another node', () => load.firstAckAfter(killedAt, p.cluster.nodes.find((n) => n.name === primary)!.port) !== null, 60_000);
    await load.stop();
    const next = (await p.state())!.primary!;
    assert.notEqual(next, primary);
    assert.deepEqual(await missingAcked(p.cluster.connectionString(next), load.acked), [], 'every acknowledged write is on the new primary');
  });

  test('a standby whose host dies is found by the next minute run, which then ends with the node down', async () => {
    await afterMinuteRun();
    // A standby that is not the old primary of the test before (which may still be rejoining).
    const primary = (await p.state())!.primary!;
    const standby = ['pg2', 'pg3'].find((n) => n !== primary)!;
    assert.equal(await roleOf(p, standby), 'standby');
    await crashNode(p, standby);
    await waitFor(`NodeDown ${standby}`, () => p.events.some((e) => e.type === 'NodeDown' && (e as { node?: string }).node === standby), 3 * MINUTE_MS);
    // A lasting fault the log has recorded is settled: the probe does not run all month for it.
    await waitFor('the run to end with the standby still down', () => !p.loop.probeRuns().probing, MINUTE_MS);
    assert.equal(await roleOf(p, standby), 'down');
  });
});
