import { storeFromEnv } from '../lib/control/awsControlPlane.ts';
import { parseLambdaEnv } from '../lib/control/lambdaEnv.ts';
import { metricsForRuntime } from '../lib/control/controlMetrics.ts';
import { PROBE_RUN_MS, runProbeLoop } from '../lib/control/probeLoop.ts';
import { probeLoginFromEnv } from '../lib/control/probeLoginEnv.ts';
import { jsonLog } from '../lib/log.ts';

/** EventBridge, every minute: probe every node at probeIntervalMs until just before the invocation must end. */
export const handler = async (_event: unknown, context: { getRemainingTimeInMillis(): number; awsRequestId?: string }) => {
  const env = parseLambdaEnv();
  if (!env.ok) throw new Error(env.reason);
  const log = jsonLog('probe');
  const e = env.value;
  const store = storeFromEnv(e, log);
  const result = await runProbeLoop({
    store,
    specs: e.PGVIGIL_CLUSTERS,
    prober: `lambda-${context.awsRequestId ?? 'probe'}`,
    until: Math.min(Date.now() + PROBE_RUN_MS, Date.now() + context.getRemainingTimeInMillis() - 5_000),
    log,
    metrics: metricsForRuntime('pgvigil-probe'),
    login: await probeLoginFromEnv(e, log),
  });
  log({ level: 'info', msg: 'probe invocation done', ...result });
  return result;
};
