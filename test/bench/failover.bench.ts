/**
 * npm run bench:failover -- --trials N
 *
 * A client writes a numbered row every 20 ms through the writer endpoint. Three kinds of
 * trial, each checked for acknowledged writes missing on the new primary and followed by
 * restoring the cluster to three healthy nodes:
 *   crash   SIGKILL the primary's postmaster and agent; time from the kill to the first
 *           acknowledged write through the writer endpoint
 *   silent  SIGSTOP every process of the primary node (a frozen or powered-off host); same time
 *   stall   SIGSTOP them for 1.5 s, then SIGCONT: did a failover happen?
 * With haproxy installed, a second client writes through HAProxy in front of the agents'
 * health checks (test/support/haproxy.ts: Patroni-style, /primary), and each crash trial also
 * times the write outage through it: `haproxy_failover_ms`.
 * `--probe on-wake` runs the probe as the stack deploys a synchronous cluster: only when the
 * minute comes or an agent's wake appears (the standbys' agents see the primary's agent stop
 * answering); the default, `always`, is local mode's probe every interval.
 */
import { parseArgs } from 'node:util';
import { haproxyBinary, startHaproxy, type RunningHaproxy } from '../support/haproxy.ts';
import { crashNode, nodePids, signalAll, startTestPipeline, upstreamOf, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { WriteLoad, missingAcked } from '../support/writeLoad.ts';

const { values } = parseArgs({
  options: { trials: { type: 'string', default: '3' }, 'base-port': { type: 'string', default: '17500' }, timeline: { type: 'boolean', default: false }, probe: { type: 'string', default: 'always' } },
});
if (values.probe !== 'always' && values.probe !== 'on-wake') {
  process.stderr.write(`bench:failover: --probe: ${values.probe} is not a probe cadence: give --probe always or --probe on-wake\n`);
  process.exit(2);
}
const cadence = values.probe;
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1) {
  process.stderr.write('bench:failover: --trials must be a positive integer\n');
  process.exit(2);
}

const say = (msg: string) => process.stdout.write(`${msg}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2);
};
const figures = (xs: number[]) => (xs.length ? `median=${median(xs)} min=${Math.min(...xs)} max=${Math.max(...xs)}` : 'median=n/a min=n/a max=n/a');

async function primaryOf(p: TestPipeline): Promise<string> {
  const s = await p.state();
  if (!s?.primary) throw new Error('no primary in the log');
  return s.primary;
}

/** Back to three healthy nodes: every standby streams from the primary and the endpoints list them. */
async function restored(p: TestPipeline): Promise<void> {
  const primary = await primaryOf(p);
  for (const n of p.cluster.nodes) {
    if (n.name === primary) continue;
    await waitFor(`${n.name} to stream from ${primary}`, async () => (await upstreamOf(p, n.name)) === primary, 120_000, 200);
  }
  await waitFor('the readers to list both standbys', async () => (await p.state())?.readers.length === p.cluster.nodes.length - 1, 30_000, 200);
}

async function failoverTrial(p: TestPipeline, load: WriteLoad, kind: 'crash' | 'silent', viaHaproxy: WriteLoad | null = null): Promise<{ ms: number; lost: number; haproxy?: { ms: number; lost: number } }> {
  const old = await primaryOf(p);
  const termBefore = (await p.state())!.term;
  let frozen: number[] = [];
  const t0 = Date.now();
  if (kind === 'crash') {
    await crashNode(p, old);
  } else {
    frozen = await nodePids(p, old);
    signalAll(frozen, 'SIGSTOP');
  }
  const oldPort = p.cluster.nodes.find((n) => n.name === old)!.port;
  const acked = await waitFor('a write acknowledged by another node', () => load.firstAckAfter(t0, oldPort) ?? undefined, 60_000, 5).catch((e: Error) => {
    for (const ev of p.events.filter((x) => x.at >= t0)) say(`    +${ev.at - t0} ms ${ev.type} ${ev.reason}`);
    throw e;
  });
  const ms = acked - t0;
  const next = await waitFor('a new primary in the log', async () => {
    const s = await p.state();
    return s && s.term > termBefore && s.primary !== old ? s.primary! : undefined;
  });
  const lost = (await missingAcked(p.cluster.connectionString(next), load.acked)).length;
  say(`  ${kind}: ${old} -> ${next} in ${ms} ms, lost_acked=${lost}`);
  let haproxy: { ms: number; lost: number } | undefined;
  if (viaHaproxy) {
    const hAcked = await waitFor('a write through haproxy acknowledged by another node', () => viaHaproxy.firstAckAfter(t0, oldPort) ?? undefined, 60_000, 5);
    haproxy = { ms: hAcked - t0, lost: (await missingAcked(p.cluster.connectionString(next), viaHaproxy.acked, HAPROXY_TABLE)).length };
    say(`  ${kind} through haproxy: ${old} -> ${next} in ${haproxy.ms} ms, lost_acked=${haproxy.lost}`);
  }
  if (values.timeline) {
    for (const e of p.events.filter((x) => x.at >= t0 && x.at <= acked)) {
      const what = e.type === 'ActionRequested' || e.type === 'ActionSucceeded' || e.type === 'ActionFailed' ? `${e.type} ${e.intent.action} ${e.intent.node}` : e.type;
      const why = e.type === 'ActionSucceeded' && typeof e.detail?.['followFailed'] === 'string' ? ` (follow failed: ${e.detail['followFailed']})` : '';
      say(`    +${String(e.at - t0).padStart(5)} ms  ${what}${e.type === 'ActionFailed' || e.type === 'ActionSucceeded' ? `: ${e.reason}${why}` : ''}`);
      // What the candidate was chosen from: each node's role, receiver and LSN as decide saw them.
      if (e.type === 'FailoverStarted') for (const n of e.evidence) say(`             ${n.node} ${n.role} ${n.receiver ?? '-'} ${n.lsn ?? '-'}`);
    }
  }
  if (kind === 'crash') await p.agents.get(old)!.start();
  else signalAll(frozen, 'SIGCONT');
  await restored(p);
  return { ms, lost, ...(haproxy ? { haproxy } : {}) };
}

async function stallTrial(p: TestPipeline): Promise<boolean> {
  const old = await primaryOf(p);
  const before = await p.state();
  const seen = p.events.length;
  const pids = await nodePids(p, old);
  signalAll(pids, 'SIGSTOP');
  await new Promise((r) => setTimeout(r, 1_500));
  signalAll(pids, 'SIGCONT');
  // Watch long enough for every timeout to have run out: the failure window, the receivers'
  // timeout and the lease.
  await new Promise((r) => setTimeout(r, 8_000));
  const after = await p.state();
  const failedOver = after!.term !== before!.term || p.events.slice(seen).some((e) => e.type === 'FailoverStarted');
  say(`  stall: ${old} frozen 1.5 s -> ${failedOver ? 'FAILOVER' : 'no failover'}`);
  return failedOver;
}

const HAPROXY_TABLE = 'pgvigil_writes_haproxy';
const basePort = Number(values['base-port']);
// on-wake: the minute is a real minute, so a trial's failover is the wake's doing, not a minute run's.
const p = await startTestPipeline(basePort, cadence === 'on-wake' ? { probe: { cadence: 'on-wake' } } : {});
say(`probe cadence: ${cadence}`);
let hap: RunningHaproxy | null = null;
let code = 0;
try {
  if (haproxyBinary()) hap = await startHaproxy(p, { primary: basePort + 400, replicas: basePort + 401, stats: basePort + 402 });
  await WriteLoad.prepare(p.writerUrl);
  const load = new WriteLoad(p.writerUrl);
  load.start();
  await waitFor('writes through the writer endpoint', () => load.acked.length >= 10);
  let viaHaproxy: WriteLoad | null = null;
  if (hap) {
    const url = hap.primaryUrl;
    await waitFor('haproxy to route writes', async () => WriteLoad.prepare(url, HAPROXY_TABLE).then(() => true), 15_000, 200);
    viaHaproxy = new WriteLoad(url, HAPROXY_TABLE);
    viaHaproxy.start();
    await waitFor('writes through haproxy', () => viaHaproxy!.acked.length >= 10);
  }
  const haproxyCrash: number[] = [];
  let lostHaproxy = 0;
  const crash: number[] = [];
  const silent: number[] = [];
  let lostCrash = 0;
  let lostSilent = 0;
  let falseFailovers = 0;
  for (let i = 1; i <= trials; i++) {
    say(`trial ${i}/${trials}`);
    const c = await failoverTrial(p, load, 'crash', viaHaproxy);
    crash.push(c.ms);
    lostCrash += c.lost;
    if (c.haproxy) {
      haproxyCrash.push(c.haproxy.ms);
      lostHaproxy += c.haproxy.lost;
    }
    const s = await failoverTrial(p, load, 'silent');
    silent.push(s.ms);
    lostSilent += s.lost;
    if (await stallTrial(p)) falseFailovers++;
  }
  await load.stop();
  await viaHaproxy?.stop();
  say(hap ? `haproxy_failover_ms ${figures(haproxyCrash)} lost_acked=${lostHaproxy} trials=${haproxyCrash.length}` : 'haproxy_failover_ms n/a: haproxy is not installed (scripts/setup.sh installs it as root)');
  say(`failover_ms ${figures(crash)} lost_acked=${lostCrash} trials=${crash.length}`);
  say(`silent_failover_ms ${figures(silent)} lost_acked=${lostSilent} trials=${silent.length}`);
  say(`false_failovers=${falseFailovers} stall_trials=${trials} probe=${cadence}`);
} catch (e) {
  process.stderr.write(`bench:failover failed: ${(e as Error).message}\n`);
  code = 1;
} finally {
  await hap?.stop();
  await p.dispose();
}
process.exit(code);
