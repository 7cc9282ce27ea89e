import { performance } from 'node:perf_hooks';
import type { ClusterState } from '../domain/state.ts';
import type { ControlPlane } from '../control/controlPlane.ts';
import { decideOnce } from '../control/decideOnce.ts';
import { Prober } from '../probe/prober.ts';
import type { ProbeLogin } from '../probe/probeLogin.ts';
import { loadState } from '../store/loadState.ts';
import { pruneObservations } from '../store/observations.ts';
import { readWakes } from '../store/wakes.ts';
import { SettleWatch } from '../probe/settled.ts';

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
  /**
   * 'always' (default locally, where probing costs nothing): a round every probeIntervalMs.
   * 'on-wake', as the stack deploys it: rounds only until the cluster is settled
   * (lib/probe/settled.ts), started once every `minuteMs` and whenever an agent's wake
   * (lib/store/wakes.ts) appears, looked for every `wakePollMs` (the stand-in for the table's
   * stream carrying it to decide, and decide starting the probe).
   */
  cadence?: 'always' | 'on-wake';
  minuteMs?: number;
  wakePollMs?: number;
}

export interface ControlLoop {
  stop(): Promise<void>;
  /** The last state a decide run saw. */
  state(): ClusterState | null;
  /** on-wake: runs started (by the minute or by a wake), rounds probed, and whether a run is on now. */
  probeRuns(): { byMinute: number; byWake: number; rounds: number; probing: boolean };
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
  let settle = new SettleWatch();

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

  const onWake = opts.cadence === 'on-wake';
  const minuteMs = opts.minuteMs ?? 60_000;
  const wakePollMs = opts.wakePollMs ?? 100;
  // on-wake: probing until this time at least (a run goes on while unsettled), and the wakes seen.
  let runUntil = Infinity;
  let nextMinute = cp.clock() + minuteMs;
  // Each put changes the item: its seq (restarting at 1 with each agent start) and its time.
  const wakesSeen = new Map<string, string>();
  const runs = { byMinute: 0, byWake: 0, rounds: 0 };

  /** on-wake, between runs: wait for the next minute or a new wake; true when a run should start. */
  const idle = async (): Promise<boolean> => {
    while (running) {
      if (cp.clock() >= nextMinute) {
        nextMinute += minuteMs * Math.max(1, Math.ceil((cp.clock() - nextMinute) / minuteMs));
        runs.byMinute++;
        return true;
      }
      const nodes = state?.spec?.nodes.map((n) => n.name) ?? [];
      const read = nodes.length > 0 ? await readWakes(cp.store, cluster, nodes) : null;
      if (read?.ok) {
        let woken = false;
        for (const w of read.wakes) {
          const put = `${w.seq}@${w.at}`;
          // A wake from before this loop started is old news (the first run probed after it).
          if (wakesSeen.get(w.node) !== put) woken ||= wakesSeen.has(w.node) || w.at > loopStartedAt;
          wakesSeen.set(w.node, put);
        }
        if (woken) {
          runs.byWake++;
          return true;
        }
      }
      await new Promise<void>((r) => ((wake = r), setTimeout(r, wakePollMs)));
    }
    return false;
  };
  const loopStartedAt = cp.clock();

  const loop = async () => {
    for (let round = 1; running; round++) {
      if (onWake && cp.clock() >= runUntil) {
        if (!(await idle())) break;
        runUntil = Infinity;
        settle = new SettleWatch();
      }
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
          runs.rounds++;
          cp.metrics?.probeRound?.(spec, { seconds: (performance.now() - roundStarted) / 1000, observations: r.observations, storeError: r.storeError !== null });
          if (onWake) {
            // Settled for its quiet time (at once, when the first round already is): the run ends.
            if (settle.round(spec, state, r.observations, r.storeError, started).settled) runUntil = started;
          }
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
    probeRuns: () => ({ ...runs, probing: !onWake || cp.clock() < runUntil }),
  };
}
