// What the AWS deployment would be billed for a 3-node cluster at the default timing.
// The local pipeline runs (real PostgreSQL, agents renewing leases in dynalite), its local
// scheduler stands down, and the Lambda code runs as AWS would run it: the probe loop in
// one-minute invocations, decide for every stream batch Lambda would deliver (the table's
// stream is polled 4 times a second) and on the one-minute tick, notify for every batch of
// decision items. Each function's store client is metered on the wire (ConsumedCapacity from
// dynalite); lease renewals are counted from the lease versions. Two phases of --minutes each:
// the healthy cluster, then one standby's host down (an incident left all month). Fixed items
// are counted from the synthesized stack in a VPC of yours. Prints progress, then one line.
//
// The probe runs as the stack deploys the bench's (synchronous) cluster: on-wake, a run each
// minute until settled and a run whenever decide starts it for an agent's wake; `--probe always`
// prices the probe that runs every second of the month instead.
//
//   npm run bench:cost -- --minutes 2 [--probe always]
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { SNSClient } from '@aws-sdk/client-sns';
import { marshall } from '@aws-sdk/util-dynamodb';
import { decideStreamPrefixes, lambdaMemoryMb, probeMemoryMb, type ProbeCadence } from '../../cdk/functions.ts';
import { readWakes } from '../../lib/store/wakes.ts';
import { wakeKey } from '../../lib/store/sortKeys.ts';
import { PROBE_RUN_MS } from '../../lib/control/probeLoop.ts';
import { awsControlPlane } from '../../lib/control/awsControlPlane.ts';
import { handleDecideEvent } from '../../lib/control/decideHandler.ts';
import { parseLambdaEnv } from '../../lib/control/lambdaEnv.ts';
import { handleNotifyEvent } from '../../lib/control/notifyHandler.ts';
import { runProbeLoop } from '../../lib/control/probeLoop.ts';
import { readLeases } from '../../lib/store/leases.ts';
import { leaseKey } from '../../lib/store/sortKeys.ts';
import { leasePartition } from '../../lib/store/partitions.ts';
import { closeStore, createStore } from '../../lib/store/store.ts';
import { crashNode, roleOf, startTestPipeline } from '../support/pipelineKit.ts';
import { fixedItems } from './fixedCost.ts';
import { cutWire, offlineClientConfig } from '../support/sdkWire.ts';
import { awsPrices as price, SECONDS_PER_MONTH } from './awsPrices.ts';
import { dynamoItemBytes, writeUnits } from './itemBytes.ts';
import { meterStore, type MeteredRequest } from './storeMeter.ts';
import { leaseRenewEveryMs, standbyLeaseRenewEveryMs } from '../../lib/agent/lease.ts';
import { silentLog } from '../../lib/log.ts';
import { agentKeysDir } from '../../lib/local/localAgentKeys.ts';

const { values: opts } = parseArgs({
  options: {
    minutes: { type: 'string', default: '3' },
    'base-port': { type: 'string', default: '17680' },
    probe: { type: 'string', default: 'on-wake' },
  },
});
if (opts.probe !== 'on-wake' && opts.probe !== 'always') {
  process.stderr.write(`--probe: ${opts.probe} is not a probe cadence: give --probe on-wake (as deployed) or --probe always\n`);
  process.exit(2);
}
const cadence: ProbeCadence = opts.probe;
const minutes = Number(opts.minutes);
if (!(minutes > 0 && minutes < 5)) {
  process.stderr.write(`--minutes: ${opts.minutes} is not a duration in minutes above 0 and below 5: give e.g. --minutes 3\n`);
  process.exit(2);
}
const BASE = Number(opts['base-port']);

/** Lambda polls each shard of a DynamoDB stream 4 times a second (Lambda developer guide, "Using Lambda with DynamoDB"). */
const STREAM_POLLS_PER_S = 4;
/** The probe handler stops starting rounds 5 s before its timeout (functions/probe.ts). */
const PROBE_BILLED_S = PROBE_RUN_MS / 1000;

const progress = (msg: string) => process.stdout.write(`# ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const usd = (n: number) => n.toFixed(2);
const round = (n: number) => Math.round(n).toString();

type Fn = 'probe' | 'probe-wake' | 'decide-stream' | 'decide-tick' | 'notify';
type StreamRec = ReturnType<typeof streamRecord>;

let recNo = 0;
/** A DynamoDB stream record as Lambda delivers it (NEW_IMAGE). */
function streamRecord(item: Record<string, unknown>, eventName: 'INSERT' | 'MODIFY') {
  const image = marshall(item, { removeUndefinedValues: true });
  const n = ++recNo;
  return {
    eventID: `bench-${n}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      Keys: { cluster: image['cluster'], sk: image['sk'] },
      NewImage: image,
      SequenceNumber: String(n),
      SizeBytes: dynamoItemBytes(item),
      StreamViewType: 'NEW_IMAGE',
    },
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:123456789012:table/pgvigil/stream/bench',
  };
}

const scheduledEvent = () => ({
  version: '0',
  id: `bench-tick-${Date.now()}`,
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: new Date().toISOString(),
  region: 'us-east-1',
  resources: ['arn:aws:events:us-east-1:123456789012:rule/pgvigil-decide-tick'],
  detail: {},
});

progress(`starting a 3-node local pipeline on base port ${BASE} (real PostgreSQL, agents, dynalite)`);
const p = await startTestPipeline(BASE);
const stores: ReturnType<typeof createStore>[] = [];
try {
  // From here the Lambda code is the control plane, as on AWS.
  await p.loop.stop();
  Object.assign(process.env, {
    PGVIGIL_TABLE: p.storeConfig.table,
    PGVIGIL_CLUSTERS: JSON.stringify([p.spec]),
    PGVIGIL_STORE_ENDPOINT: p.storeConfig.endpoint!,
    // Each node's agent key is its own (local mode keeps them as files; on AWS, a secret each).
    PGVIGIL_AGENT_KEY_DIR: agentKeysDir(p.workDir),
    PGVIGIL_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:pgvigil-alerts',
    AWS_REGION: 'us-east-1',
    PGVIGIL_PROBE_CADENCE: cadence,
  });
  const env = parseLambdaEnv();
  if (!env.ok) throw new Error(env.reason);
  const timing = p.spec.timing;
  const primaryRenewMs = leaseRenewEveryMs(timing.leaseTtlMs);
  const standbyRenewMs = standbyLeaseRenewEveryMs(timing.leaseTtlMs);
  progress(`probe cadence: ${cadence}${cadence === 'on-wake' ? ' (a run each minute until settled, and one whenever decide starts it for an agent\'s wake)' : ' (every interval of every minute)'}`);
  progress(`timing: probe every ${timing.probeIntervalMs} ms, heartbeat ${timing.heartbeatMs} ms, lease TTL ${timing.leaseTtlMs} ms (the primary's agent renews every ${primaryRenewMs} ms, a standby's every ${standbyRenewMs} ms, as deployed)`);

  // Two phases of the same length: the healthy cluster, then one standby's host down (its
  // PostgreSQL and agent killed) for the rest of the run, as a node left down a whole month.
  type Phase = 'healthy' | 'node-down';
  const phases: Phase[] = ['healthy', 'node-down'];
  const results = new Map<Phase, { total: number; parts: [string, number][] }>();
  const cp = { ...(await awsControlPlane(env.value, 'decide')), log: silentLog };
  let decideSink: (r: MeteredRequest) => void = () => {};
  meterStore(cp.store, (r) => decideSink(r));
  stores.push(cp.store);
  for (const phase of phases) {
    if (phase === 'node-down') {
      const down = (await Promise.all(p.cluster.nodes.map(async (n) => [n.name, await roleOf(p, n.name)] as const))).find(([, r]) => r === 'standby')![0];
      progress(`node down: killing ${down}'s PostgreSQL and agent, as a host that stays down`);
      await crashNode(p, down);
    }
    const requests: (MeteredRequest & { fn: Fn })[] = [];
    const toDecide: StreamRec[] = [];
    const toNotify: StreamRec[] = [];
    let decideRunning: Fn = 'decide-stream';

    const probeStore = createStore(p.storeConfig, silentLog);
    meterStore(probeStore, (r) => {
      requests.push({ ...r, fn: 'probe' });
      if (r.ok && r.kind === 'O#' && r.item) toDecide.push(streamRecord(r.item, 'INSERT'));
    });
    // One control plane per process (awsControlPlane caches it, as a Lambda container would): metered once, into this phase.
    decideSink = (r) => {
      requests.push({ ...r, fn: decideRunning });
      if (r.ok && r.kind === 'D#' && r.item) toNotify.push(streamRecord(r.item, 'INSERT'));
    };
    const notifyStore = createStore(p.storeConfig, silentLog);
    meterStore(notifyStore, (r) => requests.push({ ...r, fn: 'notify' }));
    // The table's stream is read by Lambda for free: this unmetered client stands for it.
    const streamWatch = createStore(p.storeConfig, silentLog);
    stores.push(probeStore, notifyStore, streamWatch);
    const sns = new SNSClient(offlineClientConfig);
    const published = cutWire(sns, () => ({
      statusCode: 200,
      body: '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>',
    }));

    // Lease renewals: the agents' own processes write them; each version step is one write.
    const leaseVersion = new Map<string, number>();
    const lease = { writes: 0, units: 0, bytes: 0, byNode: new Map<string, number>() };
    const pollLeases = async (): Promise<StreamRec[]> => {
      const read = await readLeases(streamWatch, 'local', p.spec.nodes.map((n) => n.name));
      if (!read.ok) return [];
      const recs: StreamRec[] = [];
      for (const l of read.leases) {
        const before = leaseVersion.get(l.node);
        leaseVersion.set(l.node, l.version);
        if (before === undefined || l.version === before) continue;
        const steps = l.version > before ? l.version - before : l.version;
        const item = { cluster: leasePartition('local', l.node), sk: leaseKey(l.node), ...l };
        lease.bytes = dynamoItemBytes(item);
        lease.writes += steps;
        lease.byNode.set(l.node, (lease.byNode.get(l.node) ?? 0) + steps);
        lease.units += steps * writeUnits(lease.bytes);
        for (let i = 0; i < steps; i++) recs.push(streamRecord(item, 'MODIFY'));
      }
      return recs;
    };

    // Agents' wakes: each put is a version step of the node's W# item (its seq), one stream record each.
    const wakeSeq = new Map<string, number>();
    let wakeWrites = 0;
    const pollWakes = async (): Promise<StreamRec[]> => {
      const read = await readWakes(streamWatch, 'local', p.spec.nodes.map((n) => n.name));
      if (!read.ok) return [];
      const recs: StreamRec[] = [];
      for (const w of read.wakes) {
        const before = wakeSeq.get(w.node);
        wakeSeq.set(w.node, w.seq);
        if (before === undefined || before === w.seq) continue;
        wakeWrites += w.seq > before ? w.seq - before : 1;
        recs.push(streamRecord({ cluster: leasePartition('local', w.node), sk: wakeKey(w.node), ...w }, 'MODIFY'));
      }
      return recs;
    };

    const runs: Record<Fn, { ms: number; records: number }[]> = { probe: [], 'probe-wake': [], 'decide-stream': [], 'decide-tick': [], notify: [] };
    let leaseRecords = 0;
    let wakeRecords = 0;
    let observationRecords = 0;
    let batchFailures = 0;
    await pollLeases();
    await pollWakes();
    const start = Date.now();
    const end = start + minutes * 60_000;
    progress(`${phase}: running for ${minutes} min: probe invocations of a minute, decide per stream batch (every ${1000 / STREAM_POLLS_PER_S} ms poll) and per minute tick, notify per decision batch`);

    // One probe invocation: a minute of rounds (always), or rounds until settled (on-wake).
    let invocationNo = 0;
    const probeInvocation = async (fn: 'probe' | 'probe-wake', until: number) => {
      const i = ++invocationNo;
      const t0 = performance.now();
      const r = await runProbeLoop({ store: probeStore, specs: [p.spec], prober: `lambda-bench-${i}`, until, log: silentLog, runMode: cadence === 'on-wake' ? 'until-settled' : 'always' });
      runs[fn].push({ ms: performance.now() - t0, records: r.written });
      if (r.storeErrors > 0 || r.blindRounds > 0) progress(`probe invocation ${i}: ${r.storeErrors} store errors, ${r.blindRounds} blind rounds`);
    };
    const wakeRuns: Promise<void>[] = [];
    // decide starts the on-wake probe for a wake (asynchronously) or before a command (waiting).
    cp.runProbe = async (_cluster, how) => {
      const run = probeInvocation('probe-wake', Math.min(Date.now() + 60_000, end + 60_000));
      wakeRuns.push(run);
      if (how.wait) await run;
      return { ok: true };
    };
    const probing = (async () => {
      for (let minute = start; minute + 2 * timing.probeIntervalMs < end; minute += 60_000) {
        if (Date.now() < minute) await sleep(minute - Date.now());
        await probeInvocation('probe', Math.min(minute + 60_000, end));
      }
    })();

    let nextTick = start + 60_000;
    let nextReport = start + 15_000;
    while (Date.now() < end) {
      const polledAt = Date.now();
      const leaseRecs = await pollLeases();
      const wakeRecs = await pollWakes();
      const obsRecs = toDecide.splice(0);
      leaseRecords += leaseRecs.length;
      wakeRecords += wakeRecs.length;
      observationRecords += obsRecs.length;
      // Only the item kinds decide's stream filter passes wake it, as deployed.
      const passes = decideStreamPrefixes(cadence);
      const batch = [...obsRecs, ...(passes.includes('L#') ? leaseRecs : []), ...(passes.includes('W#') ? wakeRecs : [])];
      if (batch.length > 0) {
        decideRunning = 'decide-stream';
        const t0 = performance.now();
        const answer = await handleDecideEvent({ Records: batch }, env.value, cp);
        runs['decide-stream'].push({ ms: performance.now() - t0, records: batch.length });
        if ('batchItemFailures' in answer) batchFailures += answer.batchItemFailures.length;
      }
      if (toNotify.length > 0) {
        const records = toNotify.splice(0);
        const t0 = performance.now();
        const answer = await handleNotifyEvent({ Records: records }, { store: notifyStore, log: silentLog, sns, topicArn: env.value.PGVIGIL_TOPIC_ARN! });
        runs.notify.push({ ms: performance.now() - t0, records: records.length });
        batchFailures += answer.batchItemFailures.length;
      }
      if (Date.now() >= nextTick) {
        nextTick += 60_000;
        decideRunning = 'decide-tick';
        const t0 = performance.now();
        await handleDecideEvent(scheduledEvent(), env.value, cp);
        runs['decide-tick'].push({ ms: performance.now() - t0, records: 0 });
      }
      if (Date.now() >= nextReport) {
        nextReport += 15_000;
        const s = (Date.now() - start) / 1000;
        progress(
          `${Math.round(s)} s: ${requests.filter((r) => r.kind === 'O#').length} observation puts, ${lease.writes} lease renewals, ` +
            `${runs['decide-stream'].length} decide batches, ${requests.filter((r) => r.kind === 'D#').length} decisions, ${published.length} SNS publishes`,
        );
      }
      const wait = polledAt + 1000 / STREAM_POLLS_PER_S - Date.now();
      if (wait > 0) await sleep(wait);
    }
    await probing;
    await Promise.all(wakeRuns);
    const measuredS = (Date.now() - start) / 1000;
    const perMonth = SECONDS_PER_MONTH / measuredS;

    // DynamoDB: write units by item kind, read units by function.
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const wru = (kind: string) => sum(requests.filter((r) => r.kind === kind).map((r) => r.writeUnits));
    const count = (kind: string) => requests.filter((r) => r.kind === kind).length;
    const otherWru = sum(requests.filter((r) => r.kind === null || !['O#', 'D#', 'S#', 'L#'].includes(r.kind)).map((r) => r.writeUnits));
    // A wake item is well under 1 KB: one write unit per put.
    const writes = { observations: wru('O#'), leases: lease.units, wakes: wakeWrites, decisions: wru('D#'), snapshots: wru('S#'), other: otherWru };
    const reads = Object.fromEntries((['probe', 'decide-stream', 'decide-tick', 'notify'] as Fn[]).map((fn) => [fn, sum(requests.filter((r) => r.fn === fn).map((r) => r.readUnits))])) as Record<Fn, number>;
    const obsBytes = sum(requests.filter((r) => r.kind === 'O#' && r.item).map((r) => dynamoItemBytes(r.item!)));
    const obsAvgBytes = count('O#') > 0 ? obsBytes / count('O#') : 0;
    const decisionBytes = sum(requests.filter((r) => r.kind === 'D#' && r.item).map((r) => dynamoItemBytes(r.item!)));
    const totalWru = sum(Object.values(writes));
    const totalRru = sum(Object.values(reads));
    // Stored: a day of observations (TTL 24 h) and a month of decisions; PITR bills the same size.
    const storedGb = ((obsBytes / measuredS) * 86_400 + decisionBytes * perMonth + lease.bytes * 3) / 1024 ** 3;
    const dynamoUsd =
      ((totalWru * perMonth) / 1e6) * price.dynamodb.perMillionWriteUnits +
      ((totalRru * perMonth) / 1e6) * price.dynamodb.perMillionReadUnits +
      storedGb * (price.dynamodb.perGbMonthStorage + price.dynamodb.perGbMonthPitr);

    // Lambda: the always-on probe bills its whole minute, the on-wake one each run as it took here
    // (its minute runs per minute, its wake runs extrapolated); decide and notify what they took, per invocation.
    const memGb = lambdaMemoryMb / 1024;
    const minutesPerMonth = SECONDS_PER_MONTH / 60;
    const billedS = (fn: Fn) => sum(runs[fn].map((r) => Math.ceil(r.ms))) / 1000;
    const minuteRunS = runs.probe.length > 0 ? billedS('probe') / runs.probe.length : PROBE_BILLED_S;
    const invocations = {
      probe: minutesPerMonth + runs['probe-wake'].length * perMonth,
      decideStream: runs['decide-stream'].length * perMonth,
      decideTick: minutesPerMonth,
      notify: runs.notify.length * perMonth,
    };
    const avgTickS = runs['decide-tick'].length > 0 ? billedS('decide-tick') / runs['decide-tick'].length : 0.05;
    const gbS = {
      probe: (minutesPerMonth * (cadence === 'always' ? PROBE_BILLED_S : minuteRunS) + billedS('probe-wake') * perMonth) * (probeMemoryMb / 1024),
      decideStream: billedS('decide-stream') * perMonth * memGb,
      decideTick: minutesPerMonth * avgTickS * memGb,
      notify: billedS('notify') * perMonth * memGb,
    };
    const lambdaGbS = sum(Object.values(gbS));
    const lambdaRequests = sum(Object.values(invocations));
    const lambdaUsd = lambdaGbS * price.lambda.perGbSecondArm + (lambdaRequests / 1e6) * price.lambda.perMillionRequests;
    const snsUsd = ((published.length * perMonth) / 1e6) * price.sns.perMillionPublishes;
    // Alarms are fixed items (counted from the stack below); EMF metrics appear only when blind or failing over.
    const total = dynamoUsd + lambdaUsd + snsUsd;

    const line = (label: string, monthly: number, detail: string) => {
      if (phase === 'healthy') progress(`  ${label.padEnd(34)} ${usd(monthly).padStart(7)} USD/month  ${detail}`);
    };
    const wruUsd = (units: number) => ((units * perMonth) / 1e6) * price.dynamodb.perMillionWriteUnits;
    const rruUsd = (units: number) => ((units * perMonth) / 1e6) * price.dynamodb.perMillionReadUnits;
    const gbsUsd = (g: number, inv: number) => g * price.lambda.perGbSecondArm + (inv / 1e6) * price.lambda.perMillionRequests;
    progress(`${phase}: measured ${measuredS.toFixed(0)} s, usage ${usd(total)} USD/month, extrapolated ×${perMonth.toFixed(0)} to a 730-hour month; Lambda at ${lambdaMemoryMb} MB arm64`);
    line('DynamoDB writes: observations', wruUsd(writes.observations), `${count('O#')} puts (avg ${obsAvgBytes.toFixed(0)} B) → ${round(writes.observations * perMonth)} WRU/month`);
    line('DynamoDB writes: lease renewals', wruUsd(writes.leases), `${lease.writes} renewals (${[...lease.byNode].map(([n, k]) => `${n} ${k}`).join(', ')}; ${lease.bytes} B) → ${round(writes.leases * perMonth)} WRU/month`);
    const decided = requests.filter((r) => r.kind === 'D#' && r.item).flatMap((r) => (r.item!['events'] as { type: string }[]).map((e) => e.type));
    line('DynamoDB writes: decisions+snapshots', wruUsd(writes.decisions + writes.snapshots + writes.other), `${count('D#')} decisions (${decided.join(', ') || 'none'}), ${count('S#')} snapshots`);
    line('DynamoDB reads: probe', rruUsd(reads.probe), `${round(reads.probe * perMonth)} RRU/month (strongly consistent: leases each 1 s and state each ${cadence === 'always' ? 5 : 1} s while it runs)`);
    line('DynamoDB reads: decide (stream)', rruUsd(reads['decide-stream']), `${round(reads['decide-stream'] * perMonth)} RRU/month`);
    line('DynamoDB reads: decide (tick) + notify', rruUsd(reads['decide-tick'] + reads.notify), `${round((reads['decide-tick'] + reads.notify) * perMonth)} RRU/month`);
    line('DynamoDB storage + PITR', storedGb * (price.dynamodb.perGbMonthStorage + price.dynamodb.perGbMonthPitr), `${(storedGb * 1024).toFixed(1)} MB`);
    line(
      'Lambda probe',
      gbsUsd(gbS.probe, invocations.probe),
      cadence === 'always'
        ? `${round(invocations.probe)} invocations × ${PROBE_BILLED_S} s → ${round(gbS.probe)} GB-s`
        : `${runs.probe.length} minute runs (avg ${(minuteRunS * 1000).toFixed(0)} ms), ${runs['probe-wake'].length} woken runs (${(billedS('probe-wake')).toFixed(1)} s) → ${round(invocations.probe)} invocations, ${round(gbS.probe)} GB-s`,
    );
    line('DynamoDB writes: agents\' wakes', wruUsd(writes.wakes), `${wakeWrites} wakes (${wakeRecords} reached decide)`);
    const avgDecideMs = runs['decide-stream'].length > 0 ? (billedS('decide-stream') * 1000) / runs['decide-stream'].length : 0;
    line('Lambda decide (stream batches)', gbsUsd(gbS.decideStream, invocations.decideStream), `${runs['decide-stream'].length} batches (${observationRecords} observation + ${leaseRecords} lease records), avg ${avgDecideMs.toFixed(0)} ms → ${round(invocations.decideStream)} invocations, ${round(gbS.decideStream)} GB-s`);
    line('Lambda decide (tick)', gbsUsd(gbS.decideTick, invocations.decideTick), `avg ${(avgTickS * 1000).toFixed(0)} ms`);
    line('Lambda notify', gbsUsd(gbS.notify, invocations.notify), `${runs.notify.length} batches`);
    line('SNS publishes', snsUsd, `${published.length} publishes`);
    if (batchFailures > 0) progress(`warning: ${batchFailures} stream records failed in decide or notify`);

    // What-ifs from the measured per-invocation figures: lease renewal interval, decide's stream filter, probe memory.
    const decideUsdPerInvocation = runs['decide-stream'].length > 0 ? (gbsUsd(gbS.decideStream, invocations.decideStream) + rruUsd(reads['decide-stream'])) / invocations.decideStream : 0;
    const obsPerS = observationRecords / measuredS;
    const nodes = p.spec.nodes.length;
    const leaseUnits = writeUnits(lease.bytes || 100);
    const batchesPerS = (recordsPerS: number) => STREAM_POLLS_PER_S * (1 - Math.exp(-recordsPerS / STREAM_POLLS_PER_S));
    // The primary's agent renews every renewEveryMs, each standby's every standbyRenewMs.
    const leaseAndDecideUsd = (renewEveryMs: number | null, leasesWakeDecide: boolean) => {
      const leasePerS = renewEveryMs ? 1000 / renewEveryMs + ((nodes - 1) * 1000) / standbyRenewMs : 0;
      const leaseUsd = (leasePerS * leaseUnits * SECONDS_PER_MONTH * price.dynamodb.perMillionWriteUnits) / 1e6;
      const decideUsd = batchesPerS(obsPerS + (leasesWakeDecide ? leasePerS : 0)) * SECONDS_PER_MONTH * decideUsdPerInvocation;
      return leaseUsd + decideUsd;
    };
    const measuredLeaseAndDecide = wruUsd(writes.leases) + gbsUsd(gbS.decideStream, invocations.decideStream) + rruUsd(reads['decide-stream']);
    const rest = total - measuredLeaseAndDecide;
    if (phase === 'healthy') progress(`what-if (modelled from the measured per-invocation cost; stream batches as Poisson arrivals per 250 ms poll; standbys renewing every ${standbyRenewMs} ms):`);
    for (const r of phase === 'healthy' ? [500, 1000, 1500] : []) {
      progress(`  primary renewEveryMs ${String(r).padStart(4)}: ${usd(rest + leaseAndDecideUsd(r, true))} USD/month; with leases out of decide's stream filter: ${usd(rest + leaseAndDecideUsd(r, false))}`);
    }
    if (phase === 'healthy') {
      const everyS = (ms: number) => (((SECONDS_PER_MONTH * 1000) / ms) * leaseUnits * price.dynamodb.perMillionWriteUnits) / 1e6;
      progress(`  every agent renewing every ${primaryRenewMs} ms (before standbys renewed less often): leases ${usd(nodes * everyS(primaryRenewMs))} USD/month instead of ${usd(everyS(primaryRenewMs) + (nodes - 1) * everyS(standbyRenewMs))}`);
    }

    results.set(phase, {
      total,
      parts: [
        ['lambda_probe', gbsUsd(gbS.probe, invocations.probe)],
        ['lambda_decide', gbsUsd(gbS.decideStream + gbS.decideTick, invocations.decideStream + invocations.decideTick)],
        ['dynamodb_writes', wruUsd(totalWru)],
        ['dynamodb_reads', rruUsd(totalRru)],
        ['sns', snsUsd],
      ],
    });
  }

  // Fixed items, from the stack as it deploys into a VPC of yours (test/bench/fixedCost.ts).
  const fixed = fixedItems(p.spec, { probeCadence: cadence });
  progress('fixed, per month (pgvigil in your VPC: no NAT gateway or interface endpoint of its own):');
  for (const f of fixed) progress(`  ${f.name.padEnd(34)} ${usd(f.usd).padStart(7)} USD/month  ${f.detail}`);
  const fixedUsd = fixed.reduce((n, f) => n + f.usd, 0);
  const healthy = results.get('healthy')!;
  const downUsd = results.get('node-down')!.total - healthy.total;
  // A failover a day, modelled from the figures above (a failover is a few decisions, not a load):
  // about 12 decide runs and decision items, 5 act invocations of up to 2 s, 6 alerts.
  const failoverUsd = 30 * (12 * (price.lambda.perMillionRequests / 1e6 + 0.1 * (lambdaMemoryMb / 1024) * price.lambda.perGbSecondArm + 2 * price.dynamodb.perMillionWriteUnits / 1e6 + 50 * price.dynamodb.perMillionReadUnits / 1e6) + 5 * 2 * (lambdaMemoryMb / 1024) * price.lambda.perGbSecondArm + 6 * price.sns.perMillionPublishes / 1e6);
  progress(`incidents: one node down all month +${usd(downUsd)} USD (measured); a failover a day +${usd(failoverUsd)} USD (modelled)`);
  // The goal (issue 15): under 5 USD all in.
  const probeUsd = healthy.parts.find(([n]) => n === 'lambda_probe')![1];
  progress(`goal: under 5.00 USD a month; the ${cadence} probe function costs ${usd(probeUsd)}, the fixed items ${usd(fixedUsd)}`);
  const items: [string, number][] = [...healthy.parts, ...fixed.map((f) => [f.name.replaceAll(' ', '_').replaceAll(':', ''), f.usd] as [string, number])];
  const dominant = items.sort((a, b) => b[1] - a[1])[0]!;
  process.stdout.write(
    `cost usd_per_month=${usd(fixedUsd + healthy.total)} fixed_usd=${usd(fixedUsd)} usage_usd=${usd(healthy.total)} node_down_usd=${usd(downUsd)} failover_a_day_usd=${usd(failoverUsd)} dominant=${dominant[0]} probe=${cadence}\n`,
  );
} finally {
  for (const s of stores) closeStore(s);
  await p.dispose();
}
