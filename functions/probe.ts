import { storeFromEnv } from '../lib/control/awsControlPlane.ts';
import { parseLambdaEnv } from '../lib/control/lambdaEnv.ts';
import { metricsForRuntime } from '../lib/control/controlMetrics.ts';
import { PROBE_RUN_MS } from '../lib/control/probeLoop.ts';
import { handleProbeEvent } from '../lib/control/probeHandler.ts';
import { probeLoginFromEnv } from '../lib/control/probeLoginEnv.ts';
import { jsonLog } from '../lib/log.ts';

/**
 * EventBridge every minute, and (on-wake cadence) decide for an agent's wake: probe
 * every node at probeIntervalMs, until just before the invocation must end or, on-wake, until the
 * clusters are settled (lib/control/probeHandler.ts).
 */
export const handler = async (event: unknown, context: { getRemainingTimeInMillis(): number; awsRequestId?: string }) => {
  const env = parseLambdaEnv();
  if (!env.ok) throw new Error(env.reason);
  const log = jsonLog('probe');
  const e = env.value;
  const result = await handleProbeEvent(event, e, {
    store: storeFromEnv(e, log),
    log,
    prober: `lambda-${context.awsRequestId ?? 'probe'}`,
    until: Math.min(Date.now() + PROBE_RUN_MS, Date.now() + context.getRemainingTimeInMillis() - 5_000),
    metrics: metricsForRuntime('pgvigil-probe'),
    login: await probeLoginFromEnv(e, log),
  });
  log({ level: 'info', msg: 'probe invocation done', ...result });
  return result;
};
