import { performance } from 'node:perf_hooks';
import type { ClusterSpec } from '../domain/spec.ts';
import type { ClusterState } from '../domain/state.ts';
import { Prober } from '../probe/prober.ts';
import { SettleWatch } from '../probe/settled.ts';
import type { ProbeLogin } from '../probe/probeLogin.ts';
import { loadState } from '../store/loadState.ts';
import type { Store } from '../store/store.ts';
import { noMetrics, type ControlMetrics } from './controlMetrics.ts';
import type { Log } from '../log.ts';

/**
 * How long one probe invocation probes: EventBridge starts one a minute, and stopping at the
 * minute means two never run (and bill) at once.
 */
export const PROBE_RUN_MS = 59_500;

export interface ProbeLoopOptions {
  store: Store;
  specs: ClusterSpec[];
  prober: string;
  /** Stop starting rounds after this time (ms since epoch). */
  until: number;
  log: Log;
  clock?: () => number;
  /** ProbesBlind counts for the alarm; none by default (local mode). */
  metrics?: ControlMetrics;
  /** Blind rounds are summed and published at most this often per cluster (default 10 s). */
  metricsEveryMs?: number;
  /** How the probe logs in to the nodes (probeLoginEnv.ts); absent: the superuser without TLS. */
  login?: ProbeLogin | undefined;
  /**
   * 'always': probe until `until` (the probe that runs every second of the month). 'until-settled':
   * the on-wake probe (a scheduled minute run, or an agent's wake): stop as soon as every cluster
   * has been settled (lib/probe/settled.ts) for its quiet time, after the first round if it already is.
   */
  runMode?: ProbeRunMode;
}

/** How one run of the probe ends; what is deployed (cdk ProbeCadence 'on-wake') runs 'until-settled'. */
export type ProbeRunMode = 'always' | 'until-settled';

export interface ProbeLoopResult {
  rounds: number;
  written: number;
  /** until-settled: why the last unsettled round was (the news the run watched), or null when every round was settled. */
  watched: string | null;
  storeErrors: number;
  /** Rounds, summed over clusters, that saw no node or could not reach the store. */
  blindRounds: number;
}

/**
 * What the probe Lambda does with its minute: EventBridge can't schedule below a minute, so
 * one invocation probes every cluster at its probeIntervalMs until just before it must return.
 * Writes are edge-triggered, and the table's stream wakes decide only on a change.
 */
export async function runProbeLoop(o: ProbeLoopOptions): Promise<ProbeLoopResult> {
  const clock = o.clock ?? (() => Date.now());
  const probers = new Map(o.specs.map((s) => [s.cluster, new Prober({ store: o.store, prober: o.prober, clock, ...(o.login ? { credentials: o.login } : {}) })]));
  const states = new Map<string, { state: ClusterState | null; at: number }>();
  const result: ProbeLoopResult = { rounds: 0, written: 0, storeErrors: 0, blindRounds: 0, watched: null };
  const settling = o.runMode === 'until-settled';
  const watches = new Map(o.specs.map((s) => [s.cluster, new SettleWatch()]));
  const settled = new Set<string>();
  // Settling judges each round against the log, so it reads the log more often.
  const stateEveryMs = settling ? 1_000 : 5_000;
  const interval = Math.min(...o.specs.map((s) => s.timing.probeIntervalMs));
  const blind = new BlindCounts(o.metrics ?? noMetrics, o.metricsEveryMs ?? 10_000);
  while (clock() + interval < o.until) {
    const started = clock();
    await Promise.all(
      o.specs.map(async (fallback) => {
        let cached = states.get(fallback.cluster);
        if (!cached || started - cached.at > stateEveryMs) {
          const loaded = await loadState(o.store, fallback.cluster);
          cached = { state: loaded.ok ? loaded.state : (cached?.state ?? null), at: started };
          states.set(fallback.cluster, cached);
        }
        // The log's spec is the truth (nodes added or removed); the deployed one serves until it exists.
        const spec = cached.state?.spec ?? fallback;
        const roundStarted = performance.now();
        const r = await probers.get(fallback.cluster)!.round(spec, cached.state);
        o.metrics?.probeRound?.(spec, { seconds: (performance.now() - roundStarted) / 1000, observations: r.observations, storeError: r.storeError !== null });
        result.written += r.written;
        if (r.storeError) {
          result.storeErrors++;
          o.log({ level: 'warn', msg: 'probe round could not reach the store', cluster: spec.cluster, reason: r.storeError });
        }
        if (r.storeError || !r.observations.some((obs) => obs.reachable)) {
          result.blindRounds++;
          blind.add(spec.cluster, clock());
        }
        if (settling) {
          const judged = watches.get(fallback.cluster)!.round(spec, cached.state, r.observations, r.storeError, started);
          if (judged.settled) settled.add(fallback.cluster);
          else settled.delete(fallback.cluster);
          if (judged.why !== null) result.watched = judged.why;
        }
      }),
    );
    result.rounds++;
    if (settling && settled.size === o.specs.length) break;
    const wait = started + interval - clock();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  blind.flush();
  return result;
}

/**
 * A blind control plane probes every interval: one metric document per round would flood the
 * logs, so a cluster's first blind round is published at once and later ones summed every few seconds.
 */
class BlindCounts {
  private readonly pending = new Map<string, number>();
  private readonly publishedAt = new Map<string, number>();
  constructor(
    private readonly metrics: ControlMetrics,
    private readonly everyMs: number,
  ) {}

  add(cluster: string, now: number): void {
    this.pending.set(cluster, (this.pending.get(cluster) ?? 0) + 1);
    if (now - (this.publishedAt.get(cluster) ?? -Infinity) >= this.everyMs) {
      this.publishedAt.set(cluster, now);
      this.publish(cluster);
    }
  }

  flush(): void {
    for (const cluster of [...this.pending.keys()]) this.publish(cluster);
  }

  private publish(cluster: string): void {
    const rounds = this.pending.get(cluster) ?? 0;
    this.pending.delete(cluster);
    if (rounds > 0) this.metrics.probesBlind(cluster, rounds);
  }
}
