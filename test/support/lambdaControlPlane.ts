import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { esbuildOptionsFor, handlerEntries } from '../../cdk/bundling.ts';
import { probeTimeout, decideTimeout, actTimeout, type ProbeCadence } from '../../cdk/functions.ts';
import { resolveProbeCadence } from '../../cdk/probeCadence.ts';
import { loadState } from '../../lib/store/loadState.ts';
import { lambdaClient, lambdaInvoker } from '../../lib/control/lambdaInvoke.ts';
import type { ClusterSpec } from '../../lib/domain/spec.ts';
import type { Store } from '../../lib/store/store.ts';
import { AlertSink } from './alertSink.ts';
import { ACCOUNT, REGION, scheduledEvent } from './lambdaEventShapes.ts';
import { FunctionContainers, type FunctionConfig } from './lambdaContainers.ts';
import { LambdaService, type Invocation } from './lambdaService.ts';
import { decisionStream, observationStream, type StreamFeed } from './tableStream.ts';

export const FUNCTIONS = { probe: 'pgvigil-probe', decide: 'pgvigil-decide', act: 'pgvigil-act', notify: 'pgvigil-notify' } as const;
const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:pgvigil-alerts`;
/** EventBridge's rate(1 minute): the probe's start and decide's tick (cdk/functions.ts). */
const EVERY_MINUTE_MS = 60_000;

/**
 * Each handler bundled as the stack ships it (cdk/bundling.ts's esbuild options: one ESM file,
 * the AWS SDK left to the runtime). The bundles live under the repository's node_modules so the
 * SDK they import resolves there, as the Lambda runtime's own would. A cold start then loads one
 * file instead of transpiling the sources, as on Lambda (on two shared cores, several cold
 * starts transpiling at once starved the probe of CPU: every node seen down).
 */
async function bundleHandlers(dir: string): Promise<Record<keyof typeof FUNCTIONS, string>> {
  await mkdir(dir, { recursive: true });
  const out = {} as Record<keyof typeof FUNCTIONS, string>;
  for (const name of Object.keys(FUNCTIONS) as (keyof typeof FUNCTIONS)[]) {
    const r = await build({ ...esbuildOptionsFor(handlerEntries[name]), logLevel: 'silent' });
    const file = r.outputFiles?.[0];
    if (!file) throw new Error(`esbuild wrote no bundle of ${name}`);
    out[name] = join(dir, `${name}.mjs`);
    await writeFile(out[name], file.contents);
  }
  return out;
}

export interface LambdaControlPlaneOptions {
  workDir: string;
  /** The store as the stream stand-in reads it (the functions make their own clients from the environment). */
  store: Store;
  storeEndpoint: string;
  specs: ClusterSpec[];
  /** The agent key decide and act sign with (on AWS a secret only they may read). */
  agentKey: string;
  /** The probe's pgvigil_monitor password file and the cluster CA certificate (on AWS: the monitor and ClusterCaCert secrets). */
  monitorPasswordFile: string;
  caCertFile: string;
  /** 127.0.0.1 ports of the Lambda API and of the SNS/EventBridge stand-in. */
  lambdaPort: number;
  sinkPort: number;
  /** How the probe runs; default what the stack deploys for these specs (cdk/probeCadence.ts). */
  probeCadence?: ProbeCadence;
}

export interface LambdaControlPlane {
  invocations: Invocation[];
  alerts: AlertSink;
  coldStarts(): Record<string, number>;
  /** The request ids of a function's invocations, in order (the probe names its prober lambda-<id>). */
  requestIds(fn: keyof typeof FUNCTIONS): readonly string[];
  /** Stream batches delivered to decide (observations) and to notify (decisions). */
  streams(): { decide: StreamFeed; notify: StreamFeed };
  stop(): Promise<void>;
}

/**
 * The control plane as the stack deploys it, run here: the four handlers of functions/, each in
 * containers of its own (lambdaContainers.ts) behind the Lambda Invoke API (lambdaService.ts),
 * with the environment cdk/functions.ts gives each, talking to dynalite over HTTP as to DynamoDB,
 * and the stack's triggers stood in for: EventBridge's one-minute rules start a probe invocation
 * (which probes for its minute, or on-wake until the cluster is settled) and tick decide, both
 * asynchronously and first at once; the table's stream (polled: dynalite has none) feeds
 * observations (and on-wake, agents' wakes) to decide and decision inserts to notify; decide hands intents to act and act sends results to decide by invoke, as on AWS.
 * Local-run variables replace the secrets (PGVIGIL_AGENT_KEY, PGVIGIL_MONITOR_PASSWORD_FILE).
 */
export async function startLambdaControlPlane(o: LambdaControlPlaneOptions): Promise<LambdaControlPlane> {
  const bundleDir = fileURLToPath(new URL(`../../node_modules/.cache/pgvigil-lambda-${process.pid}`, import.meta.url));
  const bundles = await bundleHandlers(bundleDir);
  const sink = new AlertSink();
  const sinkUrl = await sink.listen('127.0.0.1', o.sinkPort);
  const lambdaUrl = `http://127.0.0.1:${o.lambdaPort}`;
  const cadence = resolveProbeCadence(o.specs, o.probeCadence);
  const common: Record<string, string> = {
    PGVIGIL_PROBE_CADENCE: cadence,
    PGVIGIL_TABLE: o.store.table,
    PGVIGIL_CLUSTERS: JSON.stringify(o.specs),
    PGVIGIL_TOPIC_ARN: TOPIC_ARN,
    POWERTOOLS_METRICS_NAMESPACE: 'pgvigil',
    PGVIGIL_DEPLOYMENT: 'ec2lab',
    AWS_REGION: REGION,
    // Off AWS: the store is dynalite, Lambda is the service below, SNS and EventBridge the sink.
    PGVIGIL_STORE_ENDPOINT: o.storeEndpoint,
    PGVIGIL_LAMBDA_ENDPOINT: lambdaUrl,
    AWS_ENDPOINT_URL_SNS: sinkUrl,
    AWS_ENDPOINT_URL_EVENTBRIDGE: sinkUrl,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
  const fn = (name: keyof typeof FUNCTIONS, timeoutMs: number, env: Record<string, string>): FunctionConfig => ({
    name: FUNCTIONS[name],
    module: bundles[name],
    timeoutMs,
    env: { ...common, POWERTOOLS_SERVICE_NAME: FUNCTIONS[name], ...env },
    logPath: join(o.workDir, `lambda.${name}.log`),
  });
  const pools = {
    probe: new FunctionContainers(fn('probe', probeTimeout.toMilliseconds(), { PGVIGIL_MONITOR_PASSWORD_FILE: o.monitorPasswordFile, PGVIGIL_CA_CERT_FILE: o.caCertFile })),
    decide: new FunctionContainers(fn('decide', decideTimeout.toMilliseconds(), { PGVIGIL_AGENT_KEY: o.agentKey, PGVIGIL_ACT_FUNCTION: FUNCTIONS.act, ...(cadence === 'on-wake' ? { PGVIGIL_PROBE_FUNCTION: FUNCTIONS.probe } : {}) })),
    act: new FunctionContainers(fn('act', actTimeout.toMilliseconds(), { PGVIGIL_AGENT_KEY: o.agentKey, PGVIGIL_DECIDE_FUNCTION: FUNCTIONS.decide })),
    notify: new FunctionContainers(fn('notify', 30_000, { PGVIGIL_DECISION_EVENTS: 'on' })),
  };
  const service = new LambdaService(Object.fromEntries(Object.entries(pools).map(([name, pool]) => [FUNCTIONS[name as keyof typeof FUNCTIONS], (e: unknown) => pool.invoke(e)])));
  await service.listen(o.lambdaPort);

  // The triggers invoke through the Lambda API too, so every invocation is on the service's list.
  const invoke = lambdaInvoker(lambdaClient(REGION, lambdaUrl));
  const troubles: string[] = [];
  const trouble = (what: string) => (e: Error) => troubles.length < 100 && troubles.push(`${what}: ${e.message}`);
  const viaStream = (name: string) => async (event: { Records: unknown[] }) => {
    const r = await invoke(name, event, 'RequestResponse');
    if (!r.ok) throw new Error(r.reason);
    return r.answer;
  };
  const cluster = o.specs[0]!.cluster;
  // The log's spec names the nodes whose wakes decide's filter passes (a node added later included).
  let known = { at: 0, nodes: o.specs[0]!.nodes.map((n) => n.name) };
  const wakeNodes = async () => {
    if (Date.now() - known.at > 5_000) {
      const s = await loadState(o.store, cluster);
      known = { at: Date.now(), nodes: s.ok && s.state.spec ? s.state.spec.nodes.map((n) => n.name) : known.nodes };
    }
    return known.nodes;
  };
  const decideFeed = observationStream(o.store, cluster, viaStream(FUNCTIONS.decide), trouble('decide stream'), cadence === 'on-wake' ? { nodes: wakeNodes } : undefined);
  const notifyFeed = decisionStream(o.store, cluster, viaStream(FUNCTIONS.notify), trouble('notify stream'));
  const everyMinute = () => {
    void invoke(FUNCTIONS.probe, scheduledEvent('probe'), 'Event');
    void invoke(FUNCTIONS.decide, scheduledEvent('decide-tick'), 'Event');
  };
  everyMinute();
  const schedule = setInterval(everyMinute, EVERY_MINUTE_MS);

  return {
    invocations: service.invocations,
    alerts: sink,
    requestIds: (name) => pools[name].requestIds,
    coldStarts: () => Object.fromEntries(Object.entries(pools).map(([name, p]) => [name, p.coldStarts])),
    streams: () => ({ decide: decideFeed, notify: notifyFeed }),
    async stop() {
      clearInterval(schedule);
      await Promise.all([decideFeed.stop(), notifyFeed.stop()]);
      // A probe invocation runs for its minute: its containers are ended, not waited for.
      for (const p of Object.values(pools)) await p.stop();
      await service.close();
      await sink.close();
      await rm(bundleDir, { recursive: true, force: true });
      if (troubles.length > 0) process.stderr.write(`lambda control plane: ${troubles.length} trigger troubles, first: ${troubles.slice(0, 3).join(' | ')}\n`);
    },
  };
}
