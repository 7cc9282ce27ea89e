import { TimingSpec } from '../../domain/spec.ts';
import type { Log } from '../../log.ts';
import type { PgServer } from '../../postgres/pgServer.ts';
import { putWake } from '../../store/wakes.ts';
import type { Store } from '../../store/store.ts';
import type { FenceMarker } from '../fenceMarker.ts';
import { WAKE_KINDS, wakeReason, type Finding, type WakeKind } from './findings.ts';
import { LogView } from './logView.ts';
import { checkOwnPostgres, type ExpectedRole } from './ownPostgres.ts';
import { PrimaryAgentCheck } from './primaryAgent.ts';
import { wakeDue, type FailingEpisode } from './wakePacing.ts';

/** What the watch reports (agentMetrics.ts): each check's outcome and each wake that landed. */
export interface WatchMetrics {
  /** One check done: ok when nothing looked wrong. */
  checked(ok: boolean): void;
  /** A wake landed in the store, by the kind of the first thing its check saw. */
  woke(kind: WakeKind): void;
}

export interface WatchOptions {
  store: Store;
  cluster: string;
  node: string;
  pg: PgServer;
  fence: FenceMarker;
  /** The agent's admitted term: past the log's as last read, the log is read again (logView.ts). */
  term: () => number;
  log: Log;
  metrics?: WatchMetrics;
}

export interface WatchLoop {
  stop(): Promise<void>;
}

/** Until the spec is read: its defaults (the period and the time limit of one check). */
const DEFAULT_TIMING = TimingSpec.parse({});
/** At stop, how long a store request in flight is waited for before the agent closes its store client under it. */
const STOP_WAIT_MS = 1_000;

/**
 * The agent's watch (issue 15, where fast detection runs): every probe period of the spec it
 * asks whether PostgreSQL here answers as what the log says it is (and, on a standby, streams),
 * and on a standby whether the primary's agent answers /primary within the probe timeout. A
 * failing check wakes the probe (a wake item in this node's lease partition, whose stream record
 * starts the probe function), paced by wakePacing.ts. A wake carries no authority: the probe
 * looks with its own eyes and decide judges only what the probe saw, so a false wake costs one
 * short probe run. Checks never overlap: the next starts a period after the last one started,
 * or as soon as it ends when it took longer (a check waits at most the probe timeout, plus
 * readServerState's own half second on a frozen server).
 */
export function startWatch(o: WatchOptions): WatchLoop {
  const view = new LogView(o.store, o.cluster, o.node, o.log);
  const primaryCheck = new PrimaryAgentCheck();
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let checking: Promise<void> | null = null;
  let putting: Promise<void> | null = null;
  let episode: (FailingEpisode & { warned: boolean; woke: boolean }) | null = null;
  let landed = 0;
  let lastThrow: string | null = null;

  const check = async (): Promise<number> => {
    view.refreshIfDue(o.term());
    const spec = view.spec;
    const timing = spec?.timing ?? DEFAULT_TIMING;
    // A node the spec does not list is nobody's business yet (a host being added): nothing to watch.
    if (spec && !spec.nodes.some((n) => n.name === o.node)) return timing.probeIntervalMs;
    const primary = spec ? view.primary : null;
    const expected: ExpectedRole = primary === null ? 'unknown' : primary === o.node ? 'primary' : 'standby';
    // Remote nodes only once the spec is known: their agent URLs and the time limit come from it.
    const upstream = expected === 'standby' ? spec?.nodes.find((n) => n.name === primary) : undefined;
    const [own, remote] = await Promise.all([
      checkOwnPostgres({ pg: o.pg, fence: o.fence, cluster: o.cluster, node: o.node, term: o.term(), expected, timeoutMs: timing.probeTimeoutMs }),
      upstream ? primaryCheck.check(upstream, timing.probeTimeoutMs) : null,
    ]);
    if (stopped) return timing.probeIntervalMs;
    const findings = [own, remote].filter((f): f is Finding => f !== null).sort((a, b) => WAKE_KINDS.indexOf(a.kind) - WAKE_KINDS.indexOf(b.kind));
    judged(findings);
    return timing.probeIntervalMs;
  };

  const judged = (findings: Finding[]) => {
    const now = performance.now();
    if (findings.length === 0) {
      o.metrics?.checked(true);
      if (episode?.woke) o.log({ level: 'info', msg: 'watch: checks pass again' });
      episode = null;
      return;
    }
    o.metrics?.checked(false);
    episode ??= { since: now, lastWakeAt: null, warned: false, woke: false };
    // One put at a time; a put the store refused leaves the episode due, so the next failing check retries.
    if (putting || !wakeDue(episode, now)) return;
    const ep = episode;
    const kind = findings[0]!.kind;
    const reason = wakeReason(o.node, findings);
    const seq = landed + 1;
    putting = putWake(o.store, o.cluster, { node: o.node, at: Date.now(), reason, seq })
      .then((r) => {
        if (r.ok) {
          landed = seq;
          ep.lastWakeAt = now;
          o.metrics?.woke(kind);
          // The first wake of an episode is news; its repeats are not.
          o.log({ level: ep.woke ? 'debug' : 'info', msg: 'watch: woke the probe', reason, seq });
          ep.woke = true;
        } else if (!ep.warned) {
          ep.warned = true;
          o.log({ level: 'warn', msg: 'watch: the wake could not be written: retried at the next failing check', reason: r.reason, wake: reason });
        }
      })
      .catch((e: unknown) => o.log({ level: 'error', msg: 'watch: writing the wake threw', error: String(e) }))
      .finally(() => (putting = null));
  };

  const schedule = (afterMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      const started = performance.now();
      checking = check()
        .catch((e: unknown) => {
          const text = String(e);
          if (text !== lastThrow) o.log({ level: 'error', msg: 'watch: a check threw', error: text });
          lastThrow = text;
          return DEFAULT_TIMING.probeIntervalMs;
        })
        .then((periodMs) => schedule(Math.max(0, periodMs - (performance.now() - started))))
        .finally(() => (checking = null));
    }, afterMs);
  };
  schedule(0);

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await checking;
      // A wake or a log read still in flight is not waited for long: the store may be what is down.
      let waitTimer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([putting, view.settle()]), new Promise<void>((r) => (waitTimer = setTimeout(r, STOP_WAIT_MS)))]);
      clearTimeout(waitTimer);
      primaryCheck.close();
    },
  };
}
