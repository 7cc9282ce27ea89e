import { performance } from 'node:perf_hooks';
import type { ClusterState } from '../domain/state.ts';
import type { ControlPlane } from '../control/controlPlane.ts';
import { decideOnce } from '../control/decideOnce.ts';
import { Prober } from '../probe/prober.ts';
import type { ProbeLogin } from '../probe/probeLogin.ts';
import { loadState } from '../store/loadState.ts';
import { pruneObservations } from '../store/observations.ts';

export interface ControlLoopOptions {
  cp: ControlPlane;
  cluster: string;
  /** Local stand-in for the one-minute EventBridge tick: time-based rules (leases) need it. */
  tickEveryMs?: number;
  /** Called when the store can't be reached or the log can't be read: the control plane is blind. */
  onTrouble?: (reason: string) => void;
  onRecovered?: () => void;
  onRound?: (round: number) => void;
  /** How the probe logs in (the monitoring role over TLS); absent: the superuser without TLS. */
  probeLogin?: ProbeLogin;
}

export interface ControlLoop {
  stop(): Promise<void>;
  /** The last state a decide run saw. */
  state(): ClusterState | null;
}

const PRUNE_EVERY_MS = 60_000;

/**
 * The local scheduler: a probe round every probeIntervalMs, decide after every round that
 * wrote an observation (as the table's stream would trigger it on AWS), a tick otherwise.
 * dynalite has no TTL, so old observations are pruned here.
 */
export function startControlLoop(opts: ControlLoopOptions): ControlLoop {
  const { cp, cluster } = opts;
  const prober = new Prober({ store: cp.store, prober: `${cp.decider}-probe`, clock: cp.clock, ...(opts.probeLogin ? { credentials: opts.probeLogin } : {}) });
  const tickEveryMs = opts.tickEveryMs ?? 1_000;
  let running = true;
  let state: ClusterState | null = null;
  let troubled = false;
  let lastTick = 0;
  let lastPrune = cp.clock();
  let wake: (() => void) | null = null;

  const trouble = (reason: string) => {
    if (!troubled) opts.onTrouble?.(reason);
    troubled = true;
    cp.metrics?.storeTrouble?.(cluster, true);
  };
  const recovered = () => {
    if (troubled) opts.onRecovered?.();
    troubled = false;
    cp.metrics?.storeTrouble?.(cluster, false);
  };

  const loop = async () => {
    for (let round = 1; running; round++) {
      const started = cp.clock();
      try {
        if (state === null || round % 4 === 0) {
          const loaded = await loadState(cp.store, cluster);
          if (loaded.ok) state = loaded.state;
          else trouble(loaded.reason);
        }
        const spec = state?.spec;
        if (spec) {
          const roundStarted = performance.now();
          const r = await prober.round(spec, state);
          cp.metrics?.probeRound?.(spec, { seconds: (performance.now() - roundStarted) / 1000, observations: r.observations, storeError: r.storeError !== null });
          if (r.storeError) {
            trouble(r.storeError);
          } else {
            const now = cp.clock();
            const type = r.written > 0 ? 'probeRound' : now - lastTick >= tickEveryMs ? 'tick' : null;
            if (type) {
              lastTick = now;
              const d = await decideOnce(cp, cluster, { type, now });
              if (d.ok) {
                state = d.state;
                recovered();
              } else {
                trouble(d.reason);
              }
            }
          }
          if (cp.clock() - lastPrune > PRUNE_EVERY_MS) {
            lastPrune = cp.clock();
            await pruneObservations(cp.store, cluster, cp.clock() - 10 * 60_000);
          }
        }
        opts.onRound?.(round);
      } catch (e) {
        trouble((e as Error).message);
      }
      const interval = state?.spec?.timing.probeIntervalMs ?? 250;
      const wait = Math.max(0, started + interval - cp.clock());
      if (running && wait > 0) await new Promise<void>((r) => ((wake = r), setTimeout(r, wait)));
    }
  };
  const done = loop();
  return {
    async stop() {
      running = false;
      wake?.();
      await done;
    },
    state: () => state,
  };
}
