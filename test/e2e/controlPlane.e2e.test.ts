import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import { crashNode, roleOf, startTestPipeline, upstreamOf, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { sqlAt } from '../support/sqlAt.ts';
import { readPostmasterPid } from '../../lib/postgres/nodeFiles.ts';
import { WriteLoad, missingAcked } from '../support/writeLoad.ts';
import { MONITOR_USER } from '../../lib/host/roles.ts';
import { latestObservations } from '../../lib/store/observations.ts';

/** SIGHUP to the postmaster: what pg_reload_conf() does, without a login. */
async function reloadBySignal(dataDir: string): Promise<void> {
  const pid = await readPostmasterPid(dataDir);
  assert.ok(pid !== null, `no postmaster.pid in ${dataDir}`);
  process.kill(pid, 'SIGHUP');
}

/** The agent's log says its lease lapsed while standbys stream from it: the moment a primary without them would stop. */
async function lapsedButServing(p: TestPipeline, node: string): Promise<boolean> {
  const log = await readFile(join(p.workDir, 'agents', node, 'agent.log'), 'utf8').catch(() => '');
  return log.includes('lease lapsed; keeping PostgreSQL serving because standbys stream from it');
}

/** A probe round of `node` taken at or after `at` has been written: the rounds before it were decided (the loop is sequential). */
async function observedSince(p: TestPipeline, node: string, at: number): Promise<boolean> {
  const r = await latestObservations(p.store, p.spec.cluster, at);
  return r.ok && r.observations.some((o) => o.node === node && o.at >= at);
}

/** Steps of a failover after which a decide run is made to die once (test-only fault injection). */
const armed = new Set<string>();
const died: string[] = [];

describe('the control plane: blind, partitioned, and crashing between steps', () => {
  let p: TestPipeline;
  const trouble: string[] = [];
  let recovered = 0;
  before(async () => {
    p = await startTestPipeline(17200, {
      persistStore: true,
      onTrouble: (reason) => trouble.push(reason),
      onRecovered: () => recovered++,
      faults: (step) => {
        if (armed.delete(step)) {
          died.push(step);
          throw new Error(`injected: decide dies after ${step}`);
        }
      },
    });
    await WriteLoad.prepare(p.writerUrl);
  });
  after(async () => {
    await p?.dispose();
  });

  test('with the store stopped the control plane is blind: it says so and does nothing; restarted, it carries on', async () => {
    const before = await p.state();
    await p.stopDynalite();
    await waitFor('the blind condition to be reported', () => trouble.some((t) => /store unreachable/.test(t)), 20_000);
    // Nothing can be decided without the store, and the primary keeps serving past its lease: its standbys stream.
    await waitFor("pg1's agent to find its lease lapsed", () => lapsedButServing(p, 'pg1'), 20_000);
    assert.equal(await roleOf(p, 'pg1'), 'primary');
    await p.restartDynalite();
    await waitFor('the control plane to see the store again', () => recovered > 0, 30_000);
    const after = await p.state();
    assert.equal(after?.term, before?.term);
    assert.equal(after?.primary, 'pg1');
    const load = new WriteLoad(p.writerUrl);
    load.start();
    await waitFor('writes through the writer endpoint', () => load.acked.length >= 10);
    await load.stop();
  });

  test('a partition between the control plane and a primary its standbys still stream from changes nothing', async () => {
    const pg1 = p.cluster.nodes[0]!;
    const hba = join(pg1.dataDir, 'pg_hba.conf');
    const original = await readFile(hba, 'utf8');
    // Each reload on a fresh connection: an idle one held across the test would die with any restart of pg1.
    const reload = () => sqlAt(p.cluster.connectionString('pg1'), 'SELECT pg_reload_conf()');
    await waitFor('pg1 to serve as primary before the partition', async () => (await roleOf(p, 'pg1')) === 'primary', 20_000);
    const seen = p.events.length;
    const termBefore = (await p.state())!.term;
    try {
      // The probe's login (the monitoring role) is refused; replication, the agent's own logins and clients still pass.
      await writeFile(hba, `host all ${MONITOR_USER} all reject\n${original}`);
      await reload();
      const down = await waitFor('pg1 to be reported down', () => p.events.slice(seen).find((e) => e.type === 'NodeDown' && e.node === 'pg1'), 20_000);
      // As long as a failover would need after that (the fence wait, and a probe interval more), decided.
      const until = down.at + p.spec.timing.fenceWaitMs + p.spec.timing.probeIntervalMs;
      await waitFor('the rounds of a fence wait after NodeDown to be decided', () => observedSince(p, 'pg1', until), 30_000);
      assert.equal((await p.state())!.term, termBefore);
      assert.deepEqual(
        p.events.slice(seen).filter((e) => e.type === 'FailoverStarted'),
        [],
      );
      assert.equal(await upstreamOf(p, 'pg2'), 'pg1', 'pg2 still streams from pg1');
    } finally {
      await writeFile(hba, original);
      // The reject rule refuses this login too; a reload by signal needs none.
      await reloadBySignal(pg1.dataDir);
    }
    await waitFor('pg1 to be seen again', () => p.events.slice(seen).some((e) => e.type === 'NodeUp' && e.node === 'pg1'), 20_000);
  });

  test('a decide that dies right after any step of a failover is finished by the next run, exactly once', async (t) => {
    const load = new WriteLoad(p.writerUrl);
    load.start();
    // A failing wait must not leave the load's client holding the test process open.
    t.after(() => load.stop());
    await waitFor('writes through the writer endpoint', () => load.acked.length >= 10);
    const seen = p.events.length;
    for (const step of ['appended', 'acted:fence', 'acted:follow', 'acted:promote', 'acted:endpoints']) armed.add(step);
    await crashNode(p, 'pg1');
    const completed = await waitFor(
      'the failover to complete',
      () => p.events.slice(seen).find((e): e is Extract<DecisionEvent, { type: 'FailoverCompleted' }> => e.type === 'FailoverCompleted'),
      90_000,
    );
    await waitFor('writes on the new primary', () => load.firstAckAfter(completed.at) !== null, 30_000);
    await load.stop();
    const events = p.events.slice(seen);
    assert.ok(died.length >= 4, `decide died after ${died.join(', ')}`);
    assert.equal(events.filter((e) => e.type === 'Promoted').length, 1, 'one promotion');
    assert.equal(events.filter((e) => e.type === 'FailoverCompleted').length, 1, 'one completion');
    assert.equal(events.filter((e) => e.type === 'FailoverStarted').length, 1, 'one failover');
    const state = (await p.state())!;
    assert.equal(state.term, completed.term);
    assert.equal(await roleOf(p, state.primary!), 'primary');
    assert.deepEqual(await missingAcked(p.cluster.connectionString(state.primary!), load.acked), []);
    const others = p.cluster.nodes.map((n) => n.name).filter((n) => n !== state.primary && n !== 'pg1');
    for (const n of others) await waitFor(`${n} to follow ${state.primary}`, async () => (await upstreamOf(p, n)) === state.primary, 30_000);
  });
});
