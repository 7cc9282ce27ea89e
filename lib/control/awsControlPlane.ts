import { randomUUID } from 'node:crypto';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { Route53Client } from '@aws-sdk/client-route-53';
import { getSecretString } from '../host/awsSecrets.ts';
import { createRoute53Driver } from '../endpoints/route53.ts';
import { createStore, type Store } from '../store/store.ts';
import { metricsForRuntime } from './controlMetrics.ts';
import { type ControlPlane } from './controlPlane.ts';
import type { LambdaEnv } from './lambdaEnv.ts';
import { jsonLog, type Log } from '../log.ts';
import { handOffToAct } from './handOff.ts';
import { lambdaClient, lambdaInvoker } from './lambdaInvoke.ts';

let cachedKey: Buffer | null = null;

/**
 * One control plane per container and environment: decide runs on every observation change,
 * and a DynamoDB client made per invocation would open a new TLS connection each time.
 */
const planes = new Map<string, ControlPlane>();

let lambdaApi: { key: string; client: LambdaClient } | null = null;

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

/** The agent key: from Secrets Manager on AWS (cached for the container's life), or PGVIGIL_AGENT_KEY for local runs. Never logged. */
async function agentKey(env: LambdaEnv): Promise<Buffer> {
  if (cachedKey) return cachedKey;
  const local = process.env['PGVIGIL_AGENT_KEY'];
  if (local) return (cachedKey = Buffer.from(local));
  if (!env.PGVIGIL_AGENT_KEY_SECRET_ARN) throw new Error('set PGVIGIL_AGENT_KEY_SECRET_ARN (or PGVIGIL_AGENT_KEY for a local run)');
  const secret = await getSecretString(env.PGVIGIL_AGENT_KEY_SECRET_ARN, env.AWS_REGION);
  if (!secret) throw new Error('the agent key secret holds no string value');
  // The first line signs; a second line is the previous key, which only the agents still accept (lib/agent/signing.ts).
  cachedKey = Buffer.from(secret.trim().split('\n')[0]!.trim());
  return cachedKey;
}

/**
 * The control plane as a Lambda container sees it: DynamoDB, the agent key, Route 53 endpoints.
 * decide with PGVIGIL_ACT_FUNCTION set (as the stack sets it) hands every intent to act and
 * waits on no agent; without it (the handlers run outside Lambda) it carries them out itself.
 */
export async function awsControlPlane(env: LambdaEnv, decider: string): Promise<ControlPlane> {
  const key = `${decider} ${JSON.stringify(env)}`;
  const known = planes.get(key);
  if (known) return known;
  const log = jsonLog(decider);
  const store = storeFromEnv(env, log);
  const r53 = env.PGVIGIL_ENDPOINTS?.route53;
  const plane: ControlPlane = {
    store,
    agentKey: await agentKey(env),
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
  planes.set(key, plane);
  return plane;
}
