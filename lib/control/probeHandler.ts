import type { ClusterSpec } from '../domain/spec.ts';
import type { Store } from '../store/store.ts';
import type { Log } from '../log.ts';
import type { ControlMetrics } from './controlMetrics.ts';
import type { LambdaEnv } from './lambdaEnv.ts';
import { ProbeNowInvoke } from './lambdaEvents.ts';
import { runProbeLoop, type ProbeLoopResult } from './probeLoop.ts';
import type { ProbeLogin } from '../probe/probeLogin.ts';

export interface ProbeDeps {
  store: Store;
  log: Log;
  prober: string;
  /** Stop starting rounds after this time (ms since epoch). */
  until: number;
  metrics?: ControlMetrics;
  login?: ProbeLogin | undefined;
}

export type ProbeAnswer = ProbeLoopResult & { clusters: string[]; woken: string[] };

/**
 * The probe function's doors: the one-minute schedule (every cluster of the deployment) and,
 * with the on-wake cadence, decide starting it for one cluster (an agent's wake, or an operator
 * command). A wake names what its agent saw; the probe looks for itself and writes only what it sees.
 */
export async function handleProbeEvent(event: unknown, env: LambdaEnv, deps: ProbeDeps): Promise<ProbeAnswer> {
  let specs: ClusterSpec[] = env.PGVIGIL_CLUSTERS;
  const woken: string[] = [];
  const now = ProbeNowInvoke.safeParse(event);
  if (now.success) {
    specs = env.PGVIGIL_CLUSTERS.filter((s) => s.cluster === now.data.cluster);
    woken.push(...now.data.reasons);
    if (specs.length === 0) {
      deps.log({ level: 'warn', msg: 'asked to probe a cluster this deployment does not probe', cluster: now.data.cluster });
      return { rounds: 0, written: 0, storeErrors: 0, blindRounds: 0, watched: null, clusters: [], woken };
    }
    deps.log({ level: 'info', msg: 'probe started by decide', cluster: now.data.cluster, reasons: woken });
  }
  const result = await runProbeLoop({
    store: deps.store,
    specs,
    prober: deps.prober,
    until: now.success && now.data.maxMs !== undefined ? Math.min(deps.until, Date.now() + now.data.maxMs) : deps.until,
    log: deps.log,
    runMode: env.PGVIGIL_PROBE_CADENCE === 'on-wake' ? 'until-settled' : 'always',
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.login ? { login: deps.login } : {}),
  });
  return { ...result, clusters: specs.map((s) => s.cluster), woken };
}
