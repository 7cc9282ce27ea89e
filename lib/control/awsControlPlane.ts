import { randomUUID } from 'node:crypto';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { Route53Client } from '@aws-sdk/client-route-53';
import { agentCaOf, agentKeySource } from './agentKeySource.ts';
import { createRoute53Driver } from '../endpoints/route53.ts';
import { createStore, type Store } from '../store/store.ts';
import { metricsForRuntime } from './controlMetrics.ts';
import { type ControlPlane } from './controlPlane.ts';
import type { LambdaEnv } from './lambdaEnv.ts';
import { jsonLog, type Log } from '../log.ts';
import { handOffToAct } from './handOff.ts';
import { PROBE_NOW_SOURCE } from './lambdaEvents.ts';
import { lambdaClient, lambdaInvoker } from './lambdaInvoke.ts';

/**
 * One control plane per container and environment: decide runs on every observation change,
 * and a DynamoDB client made per invocation would open a new TLS connection each time.
 */
const planes = new Map<string, ControlPlane>();

let lambdaApi: { key: string; client: LambdaClient } | null = null;

/** How long decide waits on the probe it runs before an operator command (a quiet cluster's run is one round). */
export const PROBE_NOW_WAIT_MS = 10_000;

/** The Lambda API client the handlers invoke each other with, one per container. */
export function lambdaFromEnv(env: LambdaEnv): LambdaClient {
  const key = `${env.AWS_REGION} ${env.PGVIGIL_LAMBDA_ENDPOINT ?? ''}`;
  if (lambdaApi?.key !== key) lambdaApi = { key, client: lambdaClient(env.AWS_REGION, env.PGVIGIL_LAMBDA_ENDPOINT) };
  return lambdaApi.client;
}

/** The store every handler talks to: the table, or dynalite when a local run sets PGVIGIL_STORE_ENDPOINT. */
export function storeFromEnv(env: LambdaEnv, log: Log): Store {
  return createStore({ table: env.PGVIGIL_TABLE, region: env.AWS_REGION, ...(env.PGVIGIL_STORE_ENDPOINT ? { endpoint: env.PGVIGIL_STORE_ENDPOINT } : {}) }, log);
}

/**
 * Time limits for the control plane's AWS API calls beside the store: in subnets without
 * egress a connect would otherwise wait out the OS's SYN retries (minutes), until the Lambda
 * dies. Route 53's API answers from us-east-1, so its request limit is the longer.
 */
export const route53Http = { connectionTimeout: 3_000, requestTimeout: 10_000, throwOnRequestTimeout: true };
/** How long act waits for a writer move to be INSYNC on every Route 53 server (AWS: generally within 60 s). */
export const route53InSync = { timeoutMs: 60_000, pollMs: 2_000 };

/**
 * The control plane as a Lambda container sees it: DynamoDB, each node's agent key and the CA, Route 53 endpoints.
 * decide with PGVIGIL_ACT_FUNCTION set (as the stack sets it) hands every intent to act and
 * waits on no agent; without it (the handlers run outside Lambda) it carries them out itself.
 */
export async function awsControlPlane(env: LambdaEnv, decider: string): Promise<ControlPlane> {
  const key = `${decider} ${JSON.stringify(env)}`;
  const known = planes.get(key);
  if (known) return known;
  const log = jsonLog(decider);
  const agentCa = await agentCaOf(env);
  if (agentCa.pending) log({ level: 'warn', msg: 'no cluster CA certificate in its secret yet: calls to HTTPS agents fail until a host bootstrap puts it there', secret: env.PGVIGIL_CA_CERT_SECRET_ARN });
  const store = storeFromEnv(env, log);
  const r53 = env.PGVIGIL_ENDPOINTS?.route53;
  const plane: ControlPlane = {
    store,
    agentKey: agentKeySource(env),
    ...(agentCa.ca !== undefined ? { agentCa: agentCa.ca } : {}),
    endpoints: r53 ? createRoute53Driver({ client: new Route53Client({ region: env.AWS_REGION, requestHandler: route53Http }), ...r53, inSync: route53InSync, log: (e) => log({ level: 'info', msg: 'route53', ...e }) }) : null,
    log,
    decider,
    clock: () => Date.now(),
    // A Lambda invocation must finish its work before it returns (moot when intents are handed on).
    awaitActions: true,
    metrics: metricsForRuntime(`pgvigil-${decider}`),
  };
  const actFunction = env.PGVIGIL_ACT_FUNCTION;
  if (decider === 'decide' && actFunction) {
    const owner = `decide-${randomUUID()}`;
    plane.handOff = handOffToAct({ store, invoke: lambdaInvoker(lambdaFromEnv(env)), actFunction, owner, clock: plane.clock, log });
  }
  const probeFunction = env.PGVIGIL_PROBE_FUNCTION;
  if (decider === 'decide' && env.PGVIGIL_PROBE_CADENCE === 'on-wake' && probeFunction) {
    const invoke = lambdaInvoker(lambdaFromEnv(env));
    plane.runProbe = async (cluster, how) => {
      // Waited for within decide's own 60 s: a run that does not settle is cut at PROBE_NOW_WAIT_MS.
      const payload = { source: PROBE_NOW_SOURCE, cluster, reasons: how.reasons.slice(0, 10), ...(how.wait ? { maxMs: PROBE_NOW_WAIT_MS } : {}) };
      const r = await invoke(probeFunction, payload, how.wait ? 'RequestResponse' : 'Event');
      return r.ok ? { ok: true } : r;
    };
  }
  // Without the CA yet, the next invocation reads it again rather than keep a plane that can reach no agent.
  if (!agentCa.pending) planes.set(key, plane);
  return plane;
}
