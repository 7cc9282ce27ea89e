import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { renewLease } from '../store/leases.ts';
import type { Store } from '../store/store.ts';
import type { ActionLock } from './actionLock.ts';
import type { FenceMarker } from './fenceMarker.ts';
import type { PgServer } from '../postgres/pgServer.ts';
import { readServerState } from './serverState.ts';
import type { VipConfig } from '../endpoints/vip/vipConfig.ts';
import { dropWriterVip } from './writerVip.ts';
import type { Log } from '../log.ts';
import { ClusterMembers } from './clusterMembers.ts';
import { StandbyReplies } from './standbyReplies.ts';
import { keepSyncNames } from './syncNamesKeeper.ts';
import { specSyncNames } from '../domain/syncNames.ts';
import type { SelfFence } from '../domain/observation.ts';
import type { LeaseMetrics } from './agentMetrics.ts';
import { renewAttemptTimeoutMs, renewRetryDelayMs } from './leaseRetry.ts';

export interface LeaseLoopOptions {
  store: Store;
  cluster: string;
  node: string;
  ttlMs: number;
  renewEveryMs: number;
  /** The agent's current term, written into the lease. */
  term: () => number;
  pg: PgServer;
  fence: FenceMarker;
  log: Log;
  /** The writer VIP, released when this node fences itself. */
  vip?: VipConfig;
  /** Where the spec's members learned from the store are kept across restarts (the agent's state directory). */
  stateDir?: string;
  /** The agent's action lock: a lapsed lease is checked and acted on under it, never amid a promote, follow or fence. */
  lock: ActionLock;
  /** Counts renewals by outcome and when the last one that succeeded was sent. */
  metrics?: LeaseMetrics;
  /** Told, as a performance.now() instant, until when the lease rule lets a primary here serve (lib/agent/watchdog). */
  watchdog?: { servingUntil(perfMs: number | null): void };
  /** How often to renew while PostgreSQL here answers as a standby; default standbyLeaseRenewEveryMs(ttlMs). */
  standbyRenewEveryMs?: number;
}

/**
 * How often a primary's agent renews a lease of `ttlMs`: twice per TTL (1.5 s at the default
 * 3 s), never more often than every 50 ms. Each renewal is one write unit, the bill's largest
 * usage item at TTL / 3 (issue 15). A renewal that fails is retried within the TTL's slack
 * (leaseRetry.ts), not at the next scheduled one, so a store hiccup is as far from a spurious
 * self-fence as with three tries per TTL.
 */
export function leaseRenewEveryMs(ttlMs: number): number {
  return Math.max(50, Math.floor(ttlMs / 2));
}

/**
 * How often an agent whose PostgreSQL answers as a standby renews: twice the TTL. A standby's
 * lease is only ever read as a witness that its agent runs, and each renewal says the longer
 * TTL it stands by (leaseTtlFor), so the decider waits that much longer on it (ARCHITECTURE,
 * "Lease cadence"). Only a primary's lease is renewed every TTL / 2: that one fences.
 */
export function standbyLeaseRenewEveryMs(ttlMs: number): number {
  return 2 * ttlMs;
}

/**
 * The TTL a renewal promising the next one within `everyMs` stands by: the configured TTL,
 * plus however much later than the primary's cadence it renews. The agent self-fences a
 * primary that long after the last renewal it sent, and the lease says so (Lease.ttlMs).
 */
export function leaseTtlFor(ttlMs: number, renewEveryMs: number, everyMs: number): number {
  return ttlMs + Math.max(0, everyMs - renewEveryMs);
}

export interface LeaseLoop {
  stop(): Promise<void>;
  /** For status and tests: the version we hold, and ms since the last renewal was sent. */
  snapshot(): { version: number | null; sinceRenewMs: number; selfFenced: boolean; ttlMs: number };
  /** Renew at once if the lease has lapsed; not ok if it is still lapsed afterwards. */
  ensureFresh(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** The decision log's term, read from the store now (bounded); not ok when it does not answer. */
  logTerm(): Promise<{ ok: true; term: number } | { ok: false; reason: string }>;
}

/**
 * Renews this node's lease every renewEveryMs, or every standbyRenewEveryMs while PostgreSQL
 * here answers as a standby (conditional on the version we hold). When no renewal has
 * succeeded for the TTL the last one stood by (ttlMs, longer by the standby cadence's extra
 * when that one was a standby's: leaseTtlFor; measured from when it was *sent*, on a monotonic
 * clock, so the store may have seen it later, never earlier) and PostgreSQL here is a primary,
 * stop PostgreSQL unless every standby of the spec streams from it: rule 3 of DESIGN.md.
 *
 * This is the agent's side of rule 3's invariant (ARCHITECTURE.md): *whenever the decider
 * counts a primary as fenced by its lease, that primary's agent has stopped it, whatever the
 * control plane could not see.* The decider's side (lib/domain/fencing.ts) accepts the lease
 * proof only once the lease has been quiet for the TTL plus margin and a spec standby has been
 * seen off this primary as long. So past a lapse this agent keeps serving only while every
 * other member of the spec has a physical walsender here that is streaming and replied within
 * the TTL: then no standby can be such a witness, and a control-plane outage alone does not
 * take a healthy primary down. Walsenders of anything else (a removed node, pg_basebackup,
 * pg_receivewal, a logical/CDC client) count for nothing. The members come from the decision
 * log, kept in the state directory, and each renewal writes them into the lease (the decider
 * takes its witness only among them). The state directory's members.json is written before
 * any lease names a member, so members never learned mean no lease of this agent names any and
 * no lease proof can count it: then the older guard (any walsender at all) is kept.
 */
export function startLeaseLoop(o: LeaseLoopOptions): LeaseLoop {
  const holder = `${o.node}@${hostname()}/${process.pid}`;
  let version: number | null = null;
  // A restarted agent counts its lease as lapsed until it renews (rule 3): its predecessor's
  // last renewal may be a TTL old already, and no clock survives the restart to say.
  let lastRenewSentAt = performance.now() - o.ttlMs;
  let firstRenewTried = false;
  let lastLearnedAt = -Infinity;
  let lastSampledAt = -Infinity;
  let renewing: Promise<void> | null = null;
  let checking: Promise<void> | null = null;
  let failing = false;
  let lapseNoted: string | null = null;
  let selfFenced = false;
  // This run's last self-fence, from the fence marker, reported in each lease (the decider's
  // NodeSelfFenced, once per stop) and kept after a follow or rewind clears the marker, which
  // may come before the control plane has read it. Read off the renewal's path: a slow disk
  // never delays one.
  let selfFenceReport: SelfFence | null = null;
  let readingMarker = false;
  const readSelfFence = () => {
    if (readingMarker) return;
    readingMarker = true;
    void o.fence
      .get()
      .then((m) => {
        if (m && m.why.startsWith(SELF_FENCE_PREFIX)) selfFenceReport = { term: m.term, why: m.why.slice(SELF_FENCE_PREFIX.length).trim().slice(0, 500) || 'self-fenced', at: m.at.slice(0, 40) };
      })
      .catch(() => undefined)
      .finally(() => (readingMarker = false));
  };
  let stopped = false;
  const members = new ClusterMembers(o.cluster, o.node, o.stateDir ?? null);
  const cached = members.loadCached().then((r) => {
    if (!r.ok) o.log({ level: 'warn', msg: 'cluster members cache unreadable: they count as unknown until read from the store', reason: r.reason });
  });
  let membersFailing = false;
  let keeping: Promise<void> | null = null;
  const replies = new StandbyReplies(o.pg);
  // Cadence by role: a standby renews every standbyEvery, anything else (a primary, a server
  // down or not answering, a role not known) every renewEveryMs. Each renewal writes the TTL
  // its cadence stands by, and the lapse is judged against the TTL of the last one that landed.
  const standbyEvery = Math.max(o.renewEveryMs, o.standbyRenewEveryMs ?? standbyLeaseRenewEveryMs(o.ttlMs));
  let standbyHere = false;
  let roleReading: Promise<void> | null = null;
  let promisedEvery = o.renewEveryMs;
  const cadence = () => (standbyHere ? standbyEvery : o.renewEveryMs);
  const lapseMs = () => leaseTtlFor(o.ttlMs, o.renewEveryMs, promisedEvery);
  // Read off the renewal's path, so a frozen server never delays a renewal; a failed read counts as not a standby.
  const readRole = () => {
    if (roleReading) return;
    roleReading = readServerState(o.pg, Math.min(1_000, o.renewEveryMs))
      .then((st) => void (standbyHere = st.answering && st.inRecovery === true), () => void (standbyHere = false))
      .finally(() => (roleReading = null));
  };
  // Due at the primary's cadence always; at a standby's once its period is (about) up; at once when the cadence changes.
  const due = () => failing || version === null || cadence() !== promisedEvery || performance.now() - lastRenewSentAt + o.renewEveryMs / 2 >= promisedEvery;

  // A conflict means an earlier run of this agent holds a newer version: adopt it and renew
  // again at once, so a restart (which counts its lease as lapsed) is not judged before it renews.
  // A failure is retried after a short backoff while the lease still holds (leaseRetry.ts): with
  // two renewals per TTL the next scheduled one would come at the lapse. Once lapsed, the
  // scheduled renewals go on trying, and the check decides as before.
  const renew = async () => {
    for (let retry = 1; ; retry++) {
      let r = await renewOnce();
      if (r === 'conflict') r = await renewOnce();
      if (r !== 'failed' || stopped || performance.now() - lastRenewSentAt >= lapseMs()) return;
      const waitMs = renewRetryDelayMs(retry, timing);
      if (retry === 1) o.log({ level: 'info', msg: 'lease renewal to be retried before its next period', retryInMs: waitMs, sinceRenewMs: Math.round(performance.now() - lastRenewSentAt), ttlMs: lapseMs() });
      await pause(waitMs);
      if (stopped) return;
      o.metrics?.retried();
    }
  };
  const timing = { ttlMs: o.ttlMs, renewEveryMs: o.renewEveryMs };
  const attemptMs = renewAttemptTimeoutMs(timing);
  // The retry's backoff, cut short by stop().
  let pausing: { timer: NodeJS.Timeout; done: () => void } | null = null;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => ((pausing = null), resolve());
      pausing = { timer: setTimeout(done, ms), done };
    });

  /** One renewal attempt; 'conflict' when it adopted an earlier run's newer version, 'failed' when the store refused or did not answer. */
  const renewOnce = async (): Promise<'done' | 'conflict' | 'failed'> => {
    await cached;
    // Before the first lease of this run, learn the members if the store has them, so the lease
    // names them; while still unknown, at each renewal, but off its path (learnSoon).
    if (members.others === null && version === null) await learnMembers();
    else if (members.others === null) learnSoon();
    readSelfFence();
    const sentAt = performance.now();
    const every = cadence();
    // The lease names the members this agent counts: the decider's lease proof needs its witness among them.
    // A request that never settles must not wedge the loop, nor eat its retries' time: past
    // its deadline (a third of the TTL's slack, leaseRetry.ts) it is aborted and counts as failed
    // (if it landed after all, the next renewal meets the newer version and adopts it; the
    // lapse still counts from the last renewal known to have landed, the safe side).
    const abort = new AbortController();
    const r = await withDeadline(
      renewLease(o.store, { cluster: o.cluster, node: o.node, term: o.term(), holder, members: members.others, ttlMs: leaseTtlFor(o.ttlMs, o.renewEveryMs, every), selfFenced: selfFenceReport }, version, { abortSignal: abort.signal }),
      attemptMs,
      () => (abort.abort(), { ok: false as const, reason: `the store did not answer the renewal within ${attemptMs} ms` }),
    );
    if (r.ok) {
      version = r.version;
      lastRenewSentAt = sentAt;
      promisedEvery = every;
      o.watchdog?.servingUntil(sentAt + lapseMs());
      o.metrics?.renewed(sentAt);
      if (failing) o.log({ level: 'info', msg: 'lease renewed again', version });
      failing = false;
      lapseNoted = null;
      selfFenced = false;
      if (performance.now() - lastLearnedAt >= LEARN_EVERY_MS) learnSoon();
    } else if (r.conflict) {
      // Someone (an earlier run of this agent) holds a newer version: take it (renew retries once).
      o.log({ level: 'info', msg: 'lease version moved: adopting it', current: r.current?.version ?? null, holder: r.current?.holder ?? null });
      version = r.current?.version ?? null;
      o.metrics?.conflict();
      return 'conflict';
    } else {
      if (!failing) o.log({ level: 'warn', msg: 'lease renewal failed', reason: r.reason });
      o.metrics?.failed();
      failing = true;
      return 'failed';
    }
    return 'done';
  };

  /** Runs a renewal as `renewing` (the one in flight), logging a throw; resolves when it ends. */
  const startRenewal = (): Promise<void> => {
    renewing = renew()
      .catch((e: unknown) => (o.metrics?.failed(), o.log({ level: 'error', msg: 'lease renewal threw', error: String(e) })))
      .finally(() => (renewing = null));
    return renewing;
  };

  // Off the renewal's path: a decision-log read may take up to its 5 s bound, and a renewal
  // held behind it would skip its period, which at TTL / 2 is the lapse.
  let learning: Promise<void> | null = null;
  const learnSoon = () => {
    if (learning || stopped) return;
    learning = learnMembers()
      .catch((e: unknown) => o.log({ level: 'error', msg: 'learning the cluster members threw', error: String(e) }))
      .finally(() => (learning = null));
  };

  // The spec's members, read with each successful renewal (at most every LEARN_EVERY_MS): a
  // member added is known before the next lapse can count on it.
  const learnMembers = async () => {
    await cached;
    lastLearnedAt = performance.now();
    const m = await withDeadline(
      members.refresh(o.store).catch((e: unknown) => ({ ok: false as const, reason: String(e) })),
      5_000,
      () => ({ ok: false as const, reason: 'the store did not answer the decision log read within 5000 ms' }),
    );
    if (!m.ok) {
      if (!membersFailing) o.log({ level: 'warn', msg: 'cluster members could not be read: keeping the last known', reason: m.reason, members: members.others });
      membersFailing = true;
      return;
    }
    membersFailing = false;
    if (m.changed) o.log({ level: 'info', msg: 'cluster members learned', members: m.members });
    // The commit quorum follows the spec it was read with, under the action lock (never amid a
    // promote or follow), and off the renewal's path: a long clone must not stall the lease.
    const spec = members.spec;
    if (spec && !keeping && !stopped) {
      keeping = o.lock
        .run(() => keepSyncNames(o.pg, specSyncNames(spec), o.log))
        .then(() => undefined, (e: unknown) => o.log({ level: 'error', msg: 'keeping synchronous_standby_names threw', error: String(e) }))
        .finally(() => (keeping = null));
    }
  };

  const check = async () => {
    const since = performance.now() - lastRenewSentAt;
    if (selfFenced) return;
    const ttlMs = lapseMs();
    if (since < ttlMs) {
      // Replies are followed before any lapse, so the first check after one judges them over a whole TTL.
      if (members.others && performance.now() - lastSampledAt >= o.renewEveryMs) {
        lastSampledAt = performance.now();
        if (await replies.sample(members.others)) o.watchdog?.servingUntil(replies.allReplyingUntil(members.others, o.ttlMs));
      }
      return;
    }
    const state = await readServerState(o.pg, Math.min(1_000, o.ttlMs));
    if (!state.running) return note('lease lapsed; PostgreSQL is not running here', 'info', since);
    if (state.answering && state.inRecovery) return note('lease lapsed; this node is a standby, nothing to fence', 'info', since);
    let streamingWhy = '';
    if (state.answering) {
      await cached;
      const standbys = members.others;
      if (standbys === null) {
        // members.json is written before any lease names members, so none of this state
        // directory's leases names any and no lease proof can count them (ARCHITECTURE, rule 3).
        // What is left is the old guard: some walsender still here.
        const r = await o.pg.sql<{ name: string }>("SELECT application_name AS name FROM pg_stat_replication WHERE state = 'streaming'", [], 1_000);
        if (r.ok && r.rows.length > 0) {
          o.watchdog?.servingUntil(performance.now() + o.ttlMs);
          return note(`lease lapsed; keeping PostgreSQL serving: the cluster spec's members were never learned, so no lease of this agent names any, and standbys stream from it: ${r.rows.map((x) => x.name).join(', ')}`, 'warn', since);
        }
        streamingWhy = "the cluster spec's members were never learned and no standby streams from this primary";
      } else if (!(await replies.sample(standbys))) {
        streamingWhy = 'pg_stat_replication could not be read';
      } else {
        const streams = replies.replying(standbys, o.ttlMs);
        const missing = standbys.filter((n) => !streams.includes(n));
        if (missing.length === 0) {
          o.watchdog?.servingUntil(replies.allReplyingUntil(standbys, o.ttlMs));
          return note(`lease lapsed; keeping PostgreSQL serving because standbys stream from it: ${standbys.join(', ') || 'none (the spec has no other member)'} (every standby of the spec)`, 'warn', since);
        }
        streamingWhy = `${missing.join(', ')} of the spec's standbys (${standbys.join(', ')}) ${missing.length === 1 ? 'does' : 'do'} not stream from this primary (or sent no reply within the TTL)`;
      }
    }
    const why = state.answering
      ? `lease not renewed for ${Math.round(since)} ms (TTL ${ttlMs} ms) and ${streamingWhy}`
      : `lease not renewed for ${Math.round(since)} ms (TTL ${ttlMs} ms) and PostgreSQL does not answer (${state.why})`;
    o.log({ level: 'warn', msg: 'self-fencing: stopping PostgreSQL', why });
    await o.fence.set(o.term(), `${SELF_FENCE_PREFIX} ${why}`);
    readSelfFence();
    // The writer address goes before PostgreSQL stops, as in the fence action.
    await dropWriterVip(o.vip, o.log, 'self-fencing');
    const stop = await o.pg.stopNow(1);
    selfFenced = stop.ok;
    o.log({ level: stop.ok ? 'warn' : 'error', msg: stop.ok ? 'self-fenced: PostgreSQL stopped' : 'self-fencing could not stop PostgreSQL', why, how: stop.ok ? stop.how : stop.reason });
  };

  const note = (msg: string, level: 'info' | 'warn', since: number) => {
    if (lapseNoted === msg) return;
    lapseNoted = msg;
    o.log({ level, msg, sinceRenewMs: Math.round(since) });
  };

  const renewTimer = setInterval(() => {
    if (stopped) return;
    readRole();
    if (renewing || !due()) return;
    void startRenewal();
  }, o.renewEveryMs);
  // Checked more often than renewed, so a lapse is acted on soon after the TTL.
  const checkTimer = setInterval(() => {
    if (stopped || checking || !firstRenewTried) return;
    // Once lapsed, the check (and the stop it may make) waits its turn on the action lock.
    const lapsed = !selfFenced && performance.now() - lastRenewSentAt >= lapseMs();
    checking = (lapsed ? o.lock.run(async () => (stopped ? undefined : check())) : check())
      .catch((e: unknown) => o.log({ level: 'error', msg: 'lease check threw', error: String(e) }))
      .finally(() => (checking = null));
  }, Math.min(o.renewEveryMs, 100));
  // The first renewal at once: a fresh agent should not wait a period to hold its lease. No
  // lapse is judged before it has been tried, so a slow store at start stops nothing.
  void startRenewal().finally(() => (firstRenewTried = true));

  return {
    async stop() {
      stopped = true;
      clearInterval(renewTimer);
      clearInterval(checkTimer);
      if (pausing) (clearTimeout(pausing.timer), pausing.done());
      await Promise.allSettled([renewing, checking, keeping, learning]);
    },
    snapshot: () => ({ version, sinceRenewMs: Math.round(performance.now() - lastRenewSentAt), selfFenced, ttlMs: lapseMs() }),
    async logTerm() {
      await cached;
      const m = await withDeadline(
        members.refresh(o.store).catch((e: unknown) => ({ ok: false as const, reason: String(e) })),
        5_000,
        () => ({ ok: false as const, reason: 'the store did not answer the decision log read within 5000 ms' }),
      );
      if (!m.ok) return m;
      const term = members.term;
      return term === null ? { ok: false, reason: 'the decision log holds no term yet' } : { ok: true, term };
    },
    async ensureFresh() {
      if (performance.now() - lastRenewSentAt < lapseMs()) return { ok: true };
      await renewing;
      if (performance.now() - lastRenewSentAt >= lapseMs() && !stopped) await startRenewal();
      const since = performance.now() - lastRenewSentAt;
      return since < lapseMs() ? { ok: true } : { ok: false, reason: `this agent's lease has not been renewed for ${Math.round(since)} ms (TTL ${lapseMs()} ms)` };
    },
  };
}

/** `p`, or `late()` once `ms` have passed without it settling. */
function withDeadline<T>(p: Promise<T>, ms: number, late: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(late()), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** The decision log's tail is read for a membership change at most this often (each read costs one query). */
const LEARN_EVERY_MS = 5_000;

/** How a fence marker the agent set itself (lease lapsed) begins: promote may lift it, nothing else. */
export const SELF_FENCE_PREFIX = 'self-fenced:';
