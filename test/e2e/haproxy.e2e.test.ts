import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { runCli } from '../support/cliRun.ts';
import { CHECK_FALL, CHECK_INTER_MS, haproxyBinary, startHaproxy, type RunningHaproxy } from '../support/haproxy.ts';
import { crashNode, roleOf, startTestPipeline, upstreamOf, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { WriteLoad, missingAcked } from '../support/writeLoad.ts';
import { ClientLoad } from '../support/clientLoad.ts';

const BASE = 16500;
const HAPROXY = { primary: BASE + 80, replicas: BASE + 81, stats: BASE + 82 };
const missing = haproxyBinary() === null ? 'haproxy is not installed (scripts/setup.sh installs it as root: apt-get install -y haproxy)' : false;

/** Reads through the replica listener every 20 ms, recording which server answered and whether it was in recovery. */
class ReadLoad extends ClientLoad {
  readonly reads: { at: number; port: number; inRecovery: boolean }[] = [];
  /**
   * Reads a primary answered, other than on a node in the moment of its promotion: from the promote
   * being asked until HAProxy's checks (CHECK_FALL × CHECK_INTER_MS, plus one check in flight) mark
   * it down in the replica listener, it may still answer there. HAProxy can't know sooner.
   */
  onPrimary(promotions: readonly { port: number; askedAt: number; at: number }[]): { at: number; port: number }[] {
    const detectMs = (CHECK_FALL + 1) * CHECK_INTER_MS;
    return this.reads.filter((r) => !r.inRecovery && !promotions.some((p) => p.port === r.port && r.at >= p.askedAt && r.at <= p.at + detectMs));
  }
  protected async step(client: pg.Client): Promise<void> {
    const { rows } = await client.query<{ r: boolean; port: number }>('SELECT pg_is_in_recovery() AS r, inet_server_port() AS port');
    this.reads.push({ at: Date.now(), port: rows[0]!.port, inRecovery: rows[0]!.r });
  }
}

describe('HAProxy from Debian in front of the agents, Patroni-style config (/primary, /replica?lag=1MB)', { skip: missing }, () => {
  let p: TestPipeline;
  let hap: RunningHaproxy;
  before(async () => {
    p = await startTestPipeline(BASE);
    hap = await startHaproxy(p, HAPROXY);
  });
  after(async () => {
    await hap?.stop();
    console.log('# haproxy stopped; stopping the pipeline');
    await p?.dispose();
  });

  test('writes follow the primary through a crash and a switchover; reads through the replica listener reach a primary only in the moment of its promotion', { timeout: 240_000 }, async () => {
    const port = (name: string) => p.cluster.nodes.find((n) => n.name === name)!.port;
    await waitFor('haproxy to mark pg1 alone UP in the primary listener', async () => JSON.stringify(await hap.servers('primary')) === JSON.stringify({ pg1: 'UP', pg2: 'DOWN', pg3: 'DOWN' }), 15_000);
    // And pg1 DOWN in the replica listener: HAProxy starts every server UP and marks it down only
    // after `fall` failed checks, so a read sent sooner may reach the primary (seen once).
    await waitFor('haproxy to mark pg1 DOWN and both standbys UP in the replica listener', async () => JSON.stringify(await hap.servers('replicas')) === JSON.stringify({ pg1: 'DOWN', pg2: 'UP', pg3: 'UP' }), 15_000);
    await WriteLoad.prepare(hap.primaryUrl);
    const writes = new WriteLoad(hap.primaryUrl);
    const reads = new ReadLoad(hap.replicaUrl);
    writes.start();
    reads.start();
    try {
      await waitFor('writes through haproxy', () => writes.acked.length >= 20);
      await waitFor('reads through haproxy', () => reads.reads.length >= 20);
      assert.deepEqual([...new Set(writes.ackPorts)], [port('pg1')], 'every write went to pg1');

      // Crash: postmaster and agent SIGKILLed. HAProxy's checks on pg1's agent are refused.
      const crashedAt = Date.now();
      await crashNode(p, 'pg1');
      const firstAck = await waitFor('a write through haproxy acknowledged by another node', () => writes.firstAckAfter(crashedAt, port('pg1')) ?? undefined, 60_000, 5);
      // HAProxy may route to the promoted node before its promote answer is in the log: wait for the log.
      const next = await waitFor('the log to name the new primary', async () => {
        const primary = (await p.state())?.primary ?? null;
        return primary !== null && primary !== 'pg1' ? primary : undefined;
      }, 30_000);
      assert.equal(writes.ackPorts.at(-1), port(next), `writes go to the new primary ${next}`);
      console.log(`# haproxy write outage after the crash: ${firstAck - crashedAt} ms (pg1 -> ${next})`);
      await waitFor('reads after the crash', () => reads.reads.filter((r) => r.at > firstAck).length >= 20, 30_000);

      // Back to three nodes: pg1 is rewound and follows; then a planned switchover.
      await p.agents.get('pg1')!.start();
      for (const n of p.cluster.nodes.filter((x) => x.name !== next)) {
        await waitFor(`${n.name} to stream from ${next}`, async () => (await upstreamOf(p, n.name)) === next, 90_000, 200);
      }
      console.log(`# ${next} primary, both standbys streaming from it: switchover`);
      const switchedAt = Date.now();
      const r = await runCli(['switchover', '--json', '--timeout', '90', '--workdir', p.workDir]);
      assert.equal(r.code, 0, r.stderr);
      const cliDone = Date.now();
      const out = JSON.parse(r.stdout) as { from: string; to: string; outcome: string };
      assert.deepEqual([out.from, out.outcome], [next, 'completed']);
      const afterSwitch = await waitFor(`a write through haproxy acknowledged by ${out.to}`, () => writes.firstAckAfter(switchedAt, port(next)) ?? undefined, 60_000, 5);
      assert.equal(writes.ackPorts[writes.ackTimes.indexOf(afterSwitch)], port(out.to));
      await waitFor('more writes on the switched-to primary', () => writes.ackPorts.filter((x, i) => x === port(out.to) && writes.ackTimes[i]! >= afterSwitch).length >= 20, 30_000);
      await waitFor('reads after the switchover', () => reads.reads.filter((x) => x.at > afterSwitch).length >= 20, 30_000);
      assert.equal(await roleOf(p, out.to), 'primary');
      console.log(`# switchover ${next} -> ${out.to}: the command took ${cliDone - switchedAt} ms; first write through haproxy on ${out.to} ${afterSwitch - switchedAt} ms after it began`);
      assert.equal(hap.exited(), null, 'haproxy served the whole run');
    } finally {
      await writes.stop();
      await reads.stop();
    }
    const primary = (await p.state())!.primary!;
    assert.deepEqual(await missingAcked(p.cluster.connectionString(primary), writes.acked), [], 'every write acknowledged through haproxy is on the primary');
    const promotions = p.events.flatMap((e) => {
      if (e.type !== 'Promoted') return [];
      const asked = p.events.find((x) => x.type === 'ActionRequested' && x.intent.action === 'promote' && x.intent.node === e.node && x.term === e.term);
      return [{ port: port(e.node), askedAt: asked?.at ?? e.at, at: e.at }];
    });
    const stray = reads.onPrimary(promotions);
    if (stray.length > 0) {
      // Seen once in a full run (a read on pg1 as primary outside every promotion's window): say what the log held around it.
      const first = stray[0]!.at;
      const near = p.events.filter((e) => Math.abs(e.at - first) < 5_000).map((e) => `${e.at - first} ms t${e.term} ${e.type}: ${e.reason.slice(0, 160)}`);
      assert.fail(`no read through the replica listener may be answered by a primary but in the moment of a promotion: ${JSON.stringify(stray.slice(0, 3))}\npromotions ${JSON.stringify(promotions)}\nlog within 5 s:\n${near.join('\n')}`);
    }
    console.log(`# reads through the replica listener: ${reads.reads.length}, ports ${[...new Set(reads.reads.map((x) => x.port))].join(', ')}, errors ${reads.errors}; writes ${writes.acked.length}, errors ${writes.errors}`);
  });
});
