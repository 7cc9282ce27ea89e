import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decideOnce } from '../../lib/control/decideOnce.ts';
import { handleDecideEvent } from '../../lib/control/decideHandler.ts';
import type { ControlPlane } from '../../lib/control/controlPlane.ts';
import { parseLambdaEnv, type LambdaEnv } from '../../lib/control/lambdaEnv.ts';
import { readDecisions } from '../../lib/store/decisionLog.ts';
import { putObservation } from '../../lib/store/observations.ts';
import { putWake } from '../../lib/store/wakes.ts';
import { leasePartition } from '../../lib/store/partitions.ts';
import { wakeKey } from '../../lib/store/sortKeys.ts';
import { silentLog } from '../../lib/log.ts';
import { makeSpec, obs } from '../unit/domain/kit.ts';
import { freshCluster, startStoreFixture, type StoreFixture } from '../support/storeFixture.ts';
import { scheduledEvent, streamRecord } from '../support/lambdaEventShapes.ts';

// decide with the on-wake probe, on dynalite: what it does with agents' wakes on its stream, with
// its one-minute tick between probe runs, and before an operator command. The probe itself is
// started through the control plane's runProbe (on AWS a Lambda invoke: the EC2 lab runs that
// path); here each start is recorded, so a case can say what decide asked for and when.
describe('decide with the on-wake probe', () => {
  let f: StoreFixture;
  before(async () => {
    f = await startStoreFixture({ port: 24980 });
  });
  after(async () => {
    await f?.stop();
  });

  /** A cluster initialised and seen healthy once, `ageMs` ago: quiet, nothing in progress. */
  const quietCluster = async (cadence: 'on-wake' | 'always', ageMs: number) => {
    const cluster = freshCluster('onwake');
    const spec = makeSpec({ cluster });
    const starts: { cluster: string; wait: boolean; reasons: string[]; decisionsBefore: number }[] = [];
    const decisions = async () => {
      const read = await readDecisions(f.store, cluster, {});
      if (!read.ok) throw new Error(read.reason);
      return read.items;
    };
    const cp: ControlPlane = { store: f.store, agentKey: Buffer.alloc(32, 7), endpoints: null, log: silentLog, decider: 'test', clock: () => Date.now(), awaitActions: true };
    if (cadence === 'on-wake') {
      cp.runProbe = async (c, how) => {
        starts.push({ cluster: c, ...how, decisionsBefore: (await decisions()).length });
        return { ok: true };
      };
    }
    const init = await decideOnce(cp, cluster, { type: 'initialize', now: Date.now(), spec, primary: 'pg1' });
    assert.ok(init.ok, !init.ok ? init.reason : '');
    const at = Date.now() - ageMs;
    for (const o of [obs.primary('pg1', at, ['pg2', 'pg3']), obs.standby('pg2', at, 'pg1'), obs.standby('pg3', at, 'pg1')]) {
      assert.deepEqual(await putObservation(f.store, { ...o, cluster }, 3_600_000), { ok: true });
    }
    const seen = await decideOnce(cp, cluster, { type: 'probeRound', now: at });
    assert.ok(seen.ok && seen.state.pending.length === 0 && seen.state.failover === null, 'the cluster is quiet');
    const parsed = parseLambdaEnv({ PGVIGIL_TABLE: f.store.table, PGVIGIL_CLUSTERS: JSON.stringify([spec]), PGVIGIL_PROBE_CADENCE: cadence });
    assert.ok(parsed.ok);
    return { cluster, spec, cp, env: parsed.value as LambdaEnv, starts, decisions };
  };

  test("a tick between runs, on a quiet cluster's minute-old observations, records nothing (no blindness every minute)", async () => {
    const c = await quietCluster('on-wake', 50_000);
    const before = (await c.decisions()).length;
    const answer = await handleDecideEvent(scheduledEvent('decide-tick'), c.env, c.cp);
    assert.deepEqual(answer, { ticked: [{ cluster: c.cluster, ok: true, reason: 'quiet: no fresh observation, nothing in progress' }] });
    assert.equal((await c.decisions()).length, before);
  });

  test('the same tick with the always-on probe records that the control plane cannot see the cluster', async () => {
    const c = await quietCluster('always', 50_000);
    const before = (await c.decisions()).length;
    await handleDecideEvent(scheduledEvent('decide-tick'), c.env, c.cp);
    const after = await c.decisions();
    assert.ok(after.length > before);
    assert.ok(after.at(-1)!.events.some((e) => e.type === 'ControlPlaneBlind' || e.type === 'ControlPlaneSightLost'), JSON.stringify(after.at(-1)!.events.map((e) => e.type)));
  });

  test("agents' wakes on the stream start the probe once per cluster, not waited for, with a wake's reason", async () => {
    const c = await quietCluster('on-wake', 1_000);
    for (const node of ['pg2', 'pg3']) {
      assert.deepEqual(await putWake(f.store, c.cluster, { node, at: Date.now(), reason: `${node}: primary pg1's agent did not answer /primary within 400 ms`, seq: 1 }), { ok: true });
    }
    const wake = (node: string) =>
      streamRecord({ cluster: leasePartition(c.cluster, node), sk: wakeKey(node), node, at: Date.now(), reason: `${node}: primary pg1's agent did not answer /primary within 400 ms`, seq: 1 }, 'MODIFY');
    const answer = await handleDecideEvent({ Records: [wake('pg2'), wake('pg3')] }, c.env, c.cp);
    assert.deepEqual(answer, { batchItemFailures: [] });
    assert.equal(c.starts.length, 1);
    assert.equal(c.starts[0]!.cluster, c.cluster);
    assert.equal(c.starts[0]!.wait, false);
    assert.match(c.starts[0]!.reasons[0] ?? '', /did not answer \/primary/);
  });

  test('an operator command that finds no fresh observation runs the probe first, and waits for it', async () => {
    const c = await quietCluster('on-wake', 50_000);
    const before = (await c.decisions()).length;
    const paused = await handleDecideEvent({ source: 'pgvigil.cli', cluster: c.cluster, command: { type: 'pause', now: Date.now(), requestedBy: 'ops' } }, c.env, c.cp);
    assert.ok('ok' in paused && paused.ok, JSON.stringify(paused));
    assert.equal(c.starts.length, 1);
    assert.equal(c.starts[0]!.wait, true);
    assert.equal(c.starts[0]!.decisionsBefore, before, 'the probe ran before the command was decided');
  });

  test('an operator command on fresh observations does not run it', async () => {
    const c = await quietCluster('on-wake', 500);
    await handleDecideEvent({ source: 'pgvigil.cli', cluster: c.cluster, command: { type: 'pause', now: Date.now(), requestedBy: 'ops' } }, c.env, c.cp);
    assert.equal(c.starts.length, 0);
  });
});
