/**
 * The simulated cluster's model and physics, for property tests of the decider: PostgreSQL
 * nodes with timelines and LSNs, an agent per node (term, lease, fence marker, self-fencing),
 * replication and acknowledged commits, and the faults that hit them. The prober
 * (worldProber.ts) and the agent side of the reactor (world.ts) build on it.
 *
 * Pure: time is a number the test advances; randomness comes from a seeded generator.
 */
import { bigIntToLsn } from '../../../lib/domain/lsn.ts';
import { ClusterSpec } from '../../../lib/domain/spec.ts';
import type { ClusterState } from '../../../lib/domain/state.ts';
import { parseSyncNames, specSyncNames } from '../../../lib/domain/syncNames.ts';
import { hostNow, leaseRenewEveryMs, leaseTtlFor, LOG_READ_MS, standbyLeaseRenewEveryMs, WATCHDOG_MARGIN_MS, type HostClock } from './worldAgentHost.ts';
import { renewRetryDelayMs } from '../../../lib/agent/leaseRetry.ts';

export const T0 = 1_700_000_000_000;
export const LSN0 = 0x3000000;
export const CHECKPOINT_BYTES = 0x28;

export const lsnText = (n: number): string => bigIntToLsn(BigInt(n));

/** mulberry32: small, fast, seeded. The world's coin flips, so a history replays exactly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface WorldConfig {
  nodes: { name: string; priority: number; nofailover: boolean; nosync: boolean }[];
  mode: 'synchronous' | 'async';
  /** ANY k: how many synchronous standbys must have a commit before it is acknowledged (default 1). */
  quorum?: number;
  maximumLagOnFailover: number;
  failureThreshold: number;
  leaseTtlMs: number;
  fenceWaitMs: number;
  /** wal_receiver_timeout: how long a standby keeps a silent upstream's connection. */
  walReceiverTimeoutMs: number;
  /** Bytes a write may add per round, at most. */
  maxWrite: number;
  /** The prober's and the decider's clocks, each this far from the world's (ms; default 0). */
  proberSkewMs?: number;
  deciderSkewMs?: number;
  /** When set, PostgreSQL dies with its agent (the agent supervises it), so a dead agent never leaves a primary running. */
  agentSupervisesPostgres?: boolean;
  /** Each host's clock against the world's, by node index (default: the world's). */
  hostClocks?: HostClock[];
}

export const PROBE_INTERVAL_MS = 250;

/** The invariants a run checks, by the rule of DESIGN.md or the property they come from. */
export const RULES = ['splitBrain', 'terms', 'candidate', 'pausedBlind', 'fencing', 'exactlyOnce', 'liveness', 'total', 'blindIntents'] as const;
export type Rule = (typeof RULES)[number];

export function specOf(cfg: WorldConfig): ClusterSpec {
  return ClusterSpec.parse({
    cluster: 'main',
    nodes: cfg.nodes.map((n, i) => ({
      name: n.name,
      host: '127.0.0.1',
      port: 5432 + i,
      agent: `http://127.0.0.1:${8008 + i}`,
      tags: { priority: n.priority, nofailover: n.nofailover, nosync: n.nosync },
    })),
    replication: cfg.mode === 'synchronous' ? { mode: 'synchronous', quorum: cfg.quorum ?? 1 } : { mode: 'async', maximumLagOnFailover: cfg.maximumLagOnFailover },
    timing: {
      probeIntervalMs: PROBE_INTERVAL_MS,
      failureThreshold: cfg.failureThreshold,
      probeTimeoutMs: 200,
      leaseTtlMs: cfg.leaseTtlMs,
      fenceWaitMs: cfg.fenceWaitMs,
      heartbeatMs: 10_000,
      actionTimeoutMs: 2_000,
    },
    readLagLimit: 16 * 1024,
  });
}

interface TimelineStart {
  tl: number;
  start: number;
}

export interface SimNode {
  name: string;
  nofailover: boolean;
  nosync: boolean;
  pg: 'primary' | 'standby' | 'stopped';
  /** The role a restart brings back (crash recovery). */
  lastRole: 'primary' | 'standby';
  /** The agent's fence marker: while set, nothing starts PostgreSQL here but follow/rewind. */
  fenced: boolean;
  /** The fence was the agent's own (lease lapsed), not the control plane's. */
  selfFenced: boolean;
  tl: number;
  /** The timelines of this node's WAL, oldest first, each with the LSN it starts at. */
  history: TimelineStart[];
  /** A primary's insert LSN; a standby's received (= flushed) LSN: the WAL a promotion keeps. */
  lsn: number;
  /** A standby's replay LSN (at most `lsn`); a promotion replays the rest first. */
  replayed: number;
  /** pg_last_wal_receive_lsn() answers: false from a restart of PostgreSQL until its receiver first streams (NULL). */
  recvKnown: boolean;
  /** synchronous_standby_names in force on this server (its postgresql.auto.conf): what a primary waits for. */
  syncNames: string;
  /** The other members of the spec as this node's agent last read them from the log (members.json). */
  members: string[];
  /** When the agent last read the log, by its host's clock. */
  logReadAt: number;
  /** The members the last renewal wrote into the lease. */
  leaseMembers: string[];
  upstream: string | null;
  /** The standby's WAL receiver: connected to `upstream`, last message at `lastMsgAt`. */
  recv: { upstream: string; lastMsgAt: number; flowing: boolean } | null;
  /** The term this node became primary in. */
  primaryTerm: number;
  ackedLsn: number;
  hostUp: boolean;
  agentAlive: boolean;
  agentTerm: number;
  leaseVersion: number;
  leaseTerm: number;
  /** When the store took the last renewal (world time: the judge's fact). */
  leaseRenewedAt: number;
  /** When the agent sent its last renewal that succeeded, and when it tries the next, by its host's clock. */
  leaseSentAt: number;
  nextRenewAt: number;
  /** The TTL the last renewal that landed stood by (longer for a standby's, lib/agent/lease.ts leaseTtlFor), and the role it was sent in. */
  leaseTtl: number;
  leaseAsStandby: boolean;
  /** When the agent process last started, by its host's clock: it counts its lease lapse from then. */
  agentStartedAt: number;
  /** The agent's event loop is stuck until then: no renewals, no answers, no self-fence, no watchdog feed; PostgreSQL runs on. */
  hungUntil: number;
  /**
   * The deadline the agent last fed its watchdog, by its host's clock: when its own lease rule
   * would stop PostgreSQL were nothing to change from then on (no renewal, no reply).
   */
  watchdogDeadline: number;
  /** This host's clock. */
  clock: HostClock;
  /** Replay stalls until then (a conflict with a long query on the standby): receive runs ahead of replay. */
  replayStalledUntil: number;
  frozenUntil: number;
  partitionedUntil: number;
  isolatedUntil: number;
  /**
   * On the far side of a partial partition until then: with the other nodes split off with it
   * (they still stream from one another), cut from the control plane, the store and the rest.
   */
  splitUntil: number;
  lagUntil: number;
  leaseBlockedUntil: number;
}

export interface ProberMemory {
  failures: number;
  failingSince: number | null;
  leaseVersion: number;
  leaseSeenAt: number;
  lastKnownWalLsn: number | null;
  lastKnownWalAt: number | null;
  lastKnownTimeline: number | null;
}

export type ActionReply = { ok: boolean; reason: string; detail: Record<string, unknown> };

/** The cluster itself: what the prober observes and the agents act on. */
export class WorldReplication {
  now = T0;
  readonly nodes = new Map<string, SimNode>();
  maxTl = 1;
  blindUntil = 0;
  /** The spec as the decision log holds it now (add-node, remove-node): what agents read. */
  logSpec: ClusterSpec;
  /** The term the decision log has reached. */
  logTerm = 1;
  writer: string | null;
  readers: string[] = [];
  /** Highest acknowledged LSN per timeline: the commits a client was told are durable. */
  readonly ackedByTl = new Map<number, number>();
  /** Who may legitimately acknowledge writes: the latest node promoted in the world. */
  reign: { node: string; since: number; term: number; ownAck: boolean; foreignAcks: string[] };
  readonly violations: string[] = [];
  /** The kinds of violation this run looks for; the others are ignored so one known bug can't hide another. */
  checking: ReadonlySet<Rule> = new Set(RULES);
  readonly promotions: { term: number; node: string; at: number }[] = [];

  constructor(
    readonly cfg: WorldConfig,
    readonly rand: () => number,
    primary: string,
  ) {
    this.logSpec = specOf(cfg);
    const syncNames = specSyncNames(this.logSpec);
    cfg.nodes.forEach((n, i) => {
      const isPrimary = n.name === primary;
      const clock = cfg.hostClocks?.[i] ?? { offsetMs: 0, rate: 0 };
      const at = hostNow(clock, T0, T0);
      this.nodes.set(n.name, {
        name: n.name,
        nofailover: n.nofailover,
        nosync: n.nosync,
        pg: isPrimary ? 'primary' : 'standby',
        lastRole: isPrimary ? 'primary' : 'standby',
        fenced: false,
        selfFenced: false,
        tl: 1,
        history: [{ tl: 1, start: 0 }],
        lsn: LSN0,
        replayed: LSN0,
        recvKnown: true,
        syncNames,
        members: cfg.nodes.map((x) => x.name).filter((x) => x !== n.name),
        // Agents read the log each on its own phase.
        logReadAt: at - Math.floor(rand() * LOG_READ_MS),
        leaseMembers: cfg.nodes.map((x) => x.name).filter((x) => x !== n.name),
        upstream: isPrimary ? null : primary,
        recv: isPrimary ? null : { upstream: primary, lastMsgAt: T0, flowing: true },
        primaryTerm: isPrimary ? 1 : 0,
        ackedLsn: LSN0,
        hostUp: true,
        agentAlive: true,
        agentTerm: 1,
        leaseVersion: 1,
        leaseTerm: 1,
        leaseRenewedAt: T0,
        leaseSentAt: at,
        nextRenewAt: at + leaseRenewEveryMs(cfg.leaseTtlMs),
        leaseTtl: cfg.leaseTtlMs,
        leaseAsStandby: false,
        agentStartedAt: at,
        hungUntil: 0,
        watchdogDeadline: at + cfg.leaseTtlMs,
        clock,
        replayStalledUntil: 0,
        frozenUntil: 0,
        partitionedUntil: 0,
        isolatedUntil: 0,
        splitUntil: 0,
        lagUntil: 0,
        leaseBlockedUntil: 0,
      });
    });
    this.writer = primary;
    this.readers = cfg.nodes.map((n) => n.name).filter((n) => n !== primary);
    this.reign = { node: primary, since: T0, term: 1, ownAck: false, foreignAcks: [] };
  }

  node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  frozen = (n: SimNode): boolean => this.now < n.frozenUntil;
  hung = (n: SimNode): boolean => this.now < n.hungUntil;
  /** This node's host clock now. */
  hostNow = (n: SimNode): number => hostNow(n.clock, this.now, T0);
  /** The store (and the decision log in it) is on the control plane's side of any partition. */
  reachesStore = (n: SimNode): boolean => !this.isolated(n) && !this.split(n);
  isolated = (n: SimNode): boolean => this.now < n.isolatedUntil;
  split = (n: SimNode): boolean => this.now < n.splitUntil;
  /** A network path between two hosts: neither isolated, and on the same side of a partial partition. */
  linked = (a: SimNode, b: SimNode): boolean => !this.isolated(a) && !this.isolated(b) && this.split(a) === this.split(b);
  /** The control plane (prober, reactor) can reach this host. */
  cpReaches = (n: SimNode): boolean => n.hostUp && !this.frozen(n) && this.now >= n.partitionedUntil && !this.isolated(n) && !this.split(n) && this.now >= this.blindUntil;
  running = (n: SimNode): boolean => n.hostUp && n.pg !== 'stopped';
  agentAnswers = (n: SimNode): boolean => n.agentAlive && !this.hung(n) && this.cpReaches(n);
  /** The agent's event loop runs (it may still be cut off from everyone). */
  agentRuns = (n: SimNode): boolean => n.hostUp && n.agentAlive && !this.hung(n) && !this.frozen(n);
  /** Past a lapsed lease, by the agent's own clock: no renewal sent within the TTL since it started. */
  leaseLapsed = (n: SimNode): boolean => this.hostNow(n) - Math.max(n.leaseSentAt, n.agentStartedAt) >= n.leaseTtl;
  /** The agent renews at a standby's cadence while its PostgreSQL answers in recovery (lib/agent/lease.ts). */
  asStandby = (n: SimNode): boolean => this.running(n) && n.pg === 'standby';
  /** Which node a standby's receiver currently reports streaming from (pg_stat_wal_receiver), if any. */
  streamsFrom(s: SimNode): string | null {
    return this.running(s) && !this.frozen(s) && s.pg === 'standby' && s.recv !== null ? s.recv.upstream : null;
  }

  // ---- lineage ----

  /** How far this node's WAL reaches on timeline `tl` (-1 when the timeline is not in its history). */
  posOn(n: SimNode, tl: number): number {
    const i = n.history.findIndex((h) => h.tl === tl);
    if (i < 0) return -1;
    const next = n.history[i + 1];
    return next ? next.start : n.lsn;
  }

  /** True when `s`'s WAL is a prefix of `u`'s, so s can stream from u. */
  canStream(s: SimNode, u: SimNode): boolean {
    return this.posOn(u, s.tl) >= s.lsn;
  }

  protected adoptHistory(s: SimNode, u: SimNode, upTo: number): void {
    s.lsn = upTo;
    s.replayed = Math.min(s.replayed, upTo);
    s.history = u.history.filter((h, i) => i === 0 || h.start <= upTo).map((h) => ({ ...h }));
    s.tl = s.history[s.history.length - 1]!.tl;
  }

  // ---- one probe interval of physics ----

  advance(): void {
    this.now += PROBE_INTERVAL_MS;
    const ttl = this.cfg.leaseTtlMs;
    if (this.cfg.agentSupervisesPostgres) {
      for (const n of this.nodes.values()) if (!n.agentAlive && n.pg !== 'stopped') this.crashPostgres(n.name);
    }
    for (const n of this.nodes.values()) {
      if (!n.hostUp || this.frozen(n)) continue;
      const clock = this.hostNow(n);
      // The watchdog, a process of its own: it runs while the agent hangs, and stops a serving
      // primary at most its stated margin past the deadline the agent last fed it, by this host's clock.
      if (n.pg === 'primary' && clock >= n.watchdogDeadline + WATCHDOG_MARGIN_MS) this.selfFence(n);
      if (!this.agentRuns(n)) continue;
      // The agent reads the log at most every LOG_READ_MS: the members it counts, and on a
      // primary the setting it keeps (lib/agent/syncNamesKeeper.ts).
      if (clock - n.logReadAt >= LOG_READ_MS && this.reachesStore(n)) {
        n.logReadAt = clock;
        n.members = this.logSpec.nodes.map((x) => x.name).filter((x) => x !== n.name);
        if (n.pg === 'primary') n.syncNames = specSyncNames(this.logSpec);
      }
      // Self-fence first (a host resuming from a stall checks before serving), then renew. The
      // agent's rule (lib/agent/lease.ts): past a lapsed lease, serve only while every other
      // member has streamed from it (replied) within the TTL; else stop PostgreSQL.
      if (n.pg === 'primary' && this.leaseLapsed(n) && !this.everyMemberRepliedWithin(n, ttl)) this.selfFence(n);
      // A change of role renews at once.
      if (clock >= n.nextRenewAt || this.asStandby(n) !== n.leaseAsStandby) {
        const landed = this.reachesStore(n) && this.now >= n.leaseBlockedUntil;
        if (landed) this.renewLease(n);
        // As the agent (lib/agent/leaseRetry.ts): a renewal that failed is sent again after a
        // short backoff (here: the next step) while the lease holds, else at its role's period.
        const period = this.asStandby(n) ? standbyLeaseRenewEveryMs(ttl) : leaseRenewEveryMs(ttl);
        n.nextRenewAt = clock + (!landed && !this.leaseLapsed(n) ? renewRetryDelayMs(1, { ttlMs: ttl, renewEveryMs: leaseRenewEveryMs(ttl) }) : period);
      }
      n.watchdogDeadline = this.leaseDeadline(n, ttl);
    }
    // Writes on every primary that can take them (clients may hold direct connections).
    for (const n of this.nodes.values()) {
      if (n.pg === 'primary' && this.running(n) && !this.frozen(n) && this.rand() < 0.7) n.lsn += 1 + Math.floor(this.rand() * this.cfg.maxWrite);
      if (n.pg === 'primary') n.replayed = n.lsn;
    }
    this.stream();
    this.acknowledge();
  }

  /** When each standby last replied to each upstream's walsender (`standby>upstream`): what pg_stat_replication.reply_time says on the upstream. */
  private readonly repliedAt = new Map<string, number>();

  /** The agent's check, on its own clock: when it saw each member's reply_time last change. */
  private everyMemberRepliedWithin(n: SimNode, ttl: number): boolean {
    return n.members.every((m) => (this.repliedAt.get(`${m}>${n.name}`) ?? -Infinity) > this.now - ttl / (1 + n.clock.rate));
  }

  /**
   * When the agent's own rule (self-fence above) would stop PostgreSQL here if from now on no
   * renewal succeeded and no member replied, by its host's clock: one TTL past the later of its
   * last renewal sent and the oldest of its members' last replies. That is what it feeds the
   * watchdog; a bare heartbeat, fed every loop while renewals go out every TTL/3, lets PostgreSQL
   * serve up to one renewal period past what the lease proof counts on (ARCHITECTURE, rule 3).
   */
  private leaseDeadline(n: SimNode, ttl: number): number {
    const lapse = Math.max(n.leaseSentAt, n.agentStartedAt) + n.leaseTtl;
    if (n.members.length === 0) return Infinity;
    const oldest = Math.min(...n.members.map((m) => this.repliedAt.get(`${m}>${n.name}`) ?? -Infinity));
    const oldestByHost = oldest === -Infinity ? -Infinity : hostNow(n.clock, oldest, T0);
    return Math.max(lapse, oldestByHost + ttl);
  }

  /** The agent (or its watchdog) stops its primary and sets its own fence marker. */
  protected selfFence(n: SimNode): void {
    n.lastRole = 'primary';
    n.pg = 'stopped';
    n.fenced = true;
    n.selfFenced = true;
  }

  /** One renewal that the store took: the agent's term and the members it counts go into the lease. */
  renewLease(n: SimNode): void {
    n.leaseVersion += 1;
    n.leaseTerm = n.agentTerm;
    n.leaseRenewedAt = this.now;
    n.leaseSentAt = this.hostNow(n);
    n.leaseMembers = [...n.members];
    n.leaseAsStandby = this.asStandby(n);
    const every = n.leaseAsStandby ? standbyLeaseRenewEveryMs(this.cfg.leaseTtlMs) : leaseRenewEveryMs(this.cfg.leaseTtlMs);
    n.leaseTtl = leaseTtlFor(this.cfg.leaseTtlMs, leaseRenewEveryMs(this.cfg.leaseTtlMs), every);
  }

  private stream(): void {
    const wrt = this.cfg.walReceiverTimeoutMs;
    for (const s of this.nodes.values()) {
      if (!this.running(s) || s.pg !== 'standby' || this.frozen(s)) continue;
      const u = s.upstream ? this.nodes.get(s.upstream) : undefined;
      if (!u) {
        s.recv = null;
        continue;
      }
      const linked = this.linked(s, u);
      if (this.running(u) && !this.frozen(u) && linked && this.canStream(s, u)) {
        const target = this.now < s.lagUntil ? Math.min(u.lsn, s.lsn + 2048) : u.lsn;
        if (target > s.lsn || s.recv === null) this.adoptHistory(s, u, Math.max(s.lsn, target));
        s.recv = { upstream: u.name, lastMsgAt: this.now, flowing: true };
        s.recvKnown = true;
        this.repliedAt.set(`${s.name}>${u.name}`, this.now);
      } else if (this.running(u) && (this.frozen(u) || !linked) && s.recv?.upstream === u.name && this.now - s.recv.lastMsgAt < wrt) {
        // Silence, not a reset: the receiver keeps its connection until wal_receiver_timeout.
        s.recv = { ...s.recv, flowing: false };
      } else {
        s.recv = null;
      }
    }
    // The startup process replays what was received, about as fast as a primary writes, unless
    // a conflict holds it (and after a restart it replays what pg_wal holds, receiver or not).
    for (const s of this.nodes.values()) {
      if (!this.running(s) || s.pg !== 'standby' || this.frozen(s) || this.now < s.replayStalledUntil) continue;
      s.replayed = Math.min(s.lsn, s.replayed + this.cfg.maxWrite);
    }
  }

  private acknowledge(): void {
    const ackers: string[] = [];
    for (const p of this.nodes.values()) {
      if (p.pg !== 'primary' || !this.running(p) || this.frozen(p)) continue;
      let upTo = p.lsn;
      // What this server waits for is its own synchronous_standby_names, whatever the spec says
      // now: ANY k of the named standbys streaming from it, so the k-th best received LSN among them.
      const q = parseSyncNames(p.syncNames);
      if (q !== null && q !== 'unparsed') {
        const named = new Set(q.names.filter((x) => x !== p.name));
        const received = [...this.nodes.values()]
          .filter((s) => named.has(s.name) && this.streamsFrom(s) === p.name && s.recv!.flowing && s.tl === p.tl)
          .map((s) => s.lsn)
          .sort((a, b) => b - a);
        upTo = received.length >= q.k ? Math.max(p.ackedLsn, Math.min(p.lsn, received[q.k - 1]!)) : p.ackedLsn;
      }
      if (upTo > p.ackedLsn) {
        p.ackedLsn = upTo;
        this.ackedByTl.set(p.tl, Math.max(this.ackedByTl.get(p.tl) ?? 0, upTo));
        ackers.push(p.name);
      }
    }
    const r = this.reign;
    for (const a of ackers) {
      if (a === r.node) r.ownAck = true;
      else if (!r.foreignAcks.includes(a)) r.foreignAcks.push(a);
    }
    if (r.foreignAcks.length > 0) {
      const who = r.foreignAcks.join(', ');
      if (this.cfg.mode === 'synchronous') {
        this.violate('candidate', `acknowledged write lost: ${who} acknowledged a synchronous commit after ${r.node} was promoted (term ${r.term}) at ${r.since - T0} ms`);
      } else if (r.ownAck) {
        this.violate('splitBrain', `split brain: ${who} and ${r.node} both acknowledged writes after ${r.node}'s promotion (term ${r.term}) at ${r.since - T0} ms`);
      }
      r.foreignAcks = [];
    }
  }

  violate(rule: Rule, msg: string): void {
    if (this.checking.has(rule) && this.violations.length < 5) this.violations.push(`[${rule}, t=${this.now - T0} ms] ${msg}`);
  }

  // ---- faults ----

  crashHost(name: string): void {
    const n = this.node(name);
    if (n.pg !== 'stopped') n.lastRole = n.pg;
    n.hostUp = false;
    n.agentAlive = false;
    n.pg = 'stopped';
    n.recv = null;
    n.recvKnown = false;
    n.hungUntil = 0;
  }

  crashPostgres(name: string): void {
    const n = this.node(name);
    if (n.pg !== 'stopped') n.lastRole = n.pg;
    n.pg = 'stopped';
    n.recv = null;
    n.recvKnown = false;
  }

  /**
   * The host (or the postmaster) comes back. Assumed agent contract: a fenced node stays
   * down; a former primary starts as primary only while the log still names it primary
   * and no change of primary away from it is under way, or while it is the candidate the
   * change of primary in progress promoted, in that change's term (the log has asked for its
   * promotion and nobody else can be primary of that term; until it answers, the log can't
   * record the promotion, so keeping it down would stall the failover for good); a standby
   * restarts as a standby.
   */
  restart(name: string, state: ClusterState): void {
    const n = this.node(name);
    // A restarted agent measures its lease lapse from its own start, as the real one does (its
    // first renewal goes out at once): it never self-fences on a lapse from before it started.
    if (!n.hostUp || !n.agentAlive) {
      n.agentStartedAt = n.nextRenewAt = this.hostNow(n);
      n.watchdogDeadline = n.agentStartedAt + this.cfg.leaseTtlMs;
      n.hungUntil = 0;
    }
    n.hostUp = true;
    n.agentAlive = true;
    if (n.pg !== 'stopped' || n.fenced) return;
    const f = state.failover;
    if (n.lastRole === 'standby') n.pg = 'standby';
    else if (state.primary === name && (f === null || f.from !== name)) n.pg = 'primary';
    else if (f !== null && f.to === name && f.promoteRequested && n.primaryTerm === f.term) n.pg = 'primary';
  }
}

export function lsnToNumber(lsn: string): number {
  const [hi, lo] = lsn.split('/');
  return parseInt(hi!, 16) * 2 ** 32 + parseInt(lo!, 16);
}
