/**
 * Replays a generated history against the decider: faults and operator commands hit the
 * simulated world, each probe round goes to decide, the reactor executes the pending
 * intents (sometimes failing, late, duplicated, lost, or not at all because decide
 * crashed before it ran), and every decision is checked against what the world really was.
 */
import fc from 'fast-check';
import type { Command } from '../../../lib/domain/commands.ts';
import { decide } from '../../../lib/domain/decide.ts';
import { DecisionEvent, type Intent } from '../../../lib/domain/events.ts';
import { evolve, fold } from '../../../lib/domain/evolve.ts';
import type { ClusterSpec } from '../../../lib/domain/spec.ts';
import { initialState, type ClusterState } from '../../../lib/domain/state.ts';
import { parseSyncNames } from '../../../lib/domain/syncNames.ts';
import { PROBE_INTERVAL_MS, prng, specOf, T0, World, type Rule, type WorldConfig } from './world.ts';
import { MAX_SKEW_MS } from './worldAgentHost.ts';

/** A request on a host's socket that the reactor gave up on: the agent runs it when it next can. */
interface LateRequest {
  node: string;
  intent: Intent;
  /** When the reactor signed it, by the decider's clock. */
  signedAt: number;
  notBefore: number;
  /** The agent process it reached (its start time): a request dies with its process. */
  agent: number;
}

export type Fault =
  | { kind: 'crash' | 'pgCrash' | 'agentDie' | 'restart'; node: number }
  | { kind: 'stall' | 'partition' | 'isolate' | 'lag' | 'leaseStop' | 'agentHang' | 'replayLag'; node: number; rounds: number }
  /** The operator removes a node from the spec, or adds one back (it keeps running and streaming meanwhile). */
  | { kind: 'removeNode' | 'addNode'; node: number }
  | { kind: 'blind'; rounds: number }
  /** Nodes `node` and `with` cut off together from the control plane, the store and the other nodes. */
  | { kind: 'split'; node: number; with: number; rounds: number }
  | { kind: 'decideCrash' | 'pause' | 'resume' | 'none' | 'proberRestart' }
  | { kind: 'switchover'; to: number | null }
  | { kind: 'failover'; to: number; force: boolean }
  | { kind: 'rejoin'; node: number }
  | { kind: 'junk'; which: number };

export interface Segment {
  fault: Fault;
  /** Probe rounds to run after the fault. */
  rounds: number;
}

export interface History {
  cfg: WorldConfig;
  seed: number;
  segments: Segment[];
}

export interface RunOptions {
  /** Reactor misbehaviour: failures, lost, late and duplicated answers. */
  chaos: boolean;
  /** Heal everything at the end and require every failover to settle. */
  heal: boolean;
  /** The invariants to check (the others are not reported). */
  checking: readonly Rule[];
}

// ---- generators ----

/** -1 stands for "whichever node is primary now", so faults often hit the primary. */
const target = fc.oneof({ weight: 2, arbitrary: fc.constant(-1) }, { weight: 3, arbitrary: fc.integer({ min: 0, max: 4 }) });
const rounds = fc.integer({ min: 1, max: 30 });

export const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('crash', 'pgCrash', 'agentDie', 'restart'), node: target }) as fc.Arbitrary<Fault> },
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constantFrom('stall', 'partition', 'isolate', 'lag', 'leaseStop'), node: target, rounds }) as fc.Arbitrary<Fault>,
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('agentHang' as const, 'replayLag' as const), node: target, rounds }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('removeNode' as const, 'addNode' as const), node: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('blind' as const), rounds }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('split' as const), node: target, with: fc.integer({ min: 0, max: 4 }), rounds }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('decideCrash' as const, 'pause' as const, 'resume' as const, 'none' as const, 'proberRestart' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('switchover' as const), to: fc.option(fc.integer({ min: 0, max: 4 }), { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('failover' as const), to: fc.integer({ min: 0, max: 4 }), force: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rejoin' as const), node: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('junk' as const), which: fc.integer({ min: 0, max: 9 }) }) },
);

export const configArb: fc.Arbitrary<WorldConfig> = fc
  .record({
    count: fc.constantFrom(3, 3, 3, 4, 4, 5),
    quorum: fc.constantFrom(1, 1, 2),
    mode: fc.constantFrom('synchronous' as const, 'async' as const),
    tags: fc.array(
      fc.record({ priority: fc.constantFrom(50, 100, 100, 200), nofailover: fc.integer({ min: 0, max: 4 }).map((x) => x === 0), nosync: fc.integer({ min: 0, max: 6 }).map((x) => x === 0) }),
      { minLength: 5, maxLength: 5 },
    ),
    failureThreshold: fc.integer({ min: 2, max: 4 }),
    leaseTtlMs: fc.constantFrom(1500, 3000),
    fenceExtra: fc.constantFrom(500, 1500),
    walReceiverTimeoutMs: fc.constantFrom(1000, 2000, 2500),
    maximumLagOnFailover: fc.constantFrom(8192, 65536),
    maxWrite: fc.constantFrom(2000, 20000),
    // Clocks a few hundred ms apart at most: prober and decider run on NTP-synchronised hosts.
    proberSkewMs: fc.constantFrom(0, 0, -250, 120, 250),
    deciderSkewMs: fc.constantFrom(0, 0, -250, 120, 250),
    // Each host's wall clock within the agents' maxSkewMs of the others'; rates up to 2%, forty
    // times what NTP slews, so the lease margin is shown to hold on clocks worse than real ones.
    hostClocks: fc.array(fc.record({ offsetMs: fc.constantFrom(0, 0, -2_000, 700, 2_000), rate: fc.constantFrom(0, 0, 5e-4, -5e-4, 0.02, -0.02) }), { minLength: 5, maxLength: 5 }),
  })
  .map((r) => ({
    nodes: r.tags.slice(0, r.count).map((t, i) => ({ name: `pg${i + 1}`, ...t })),
    mode: r.mode,
    // ANY 2 only where the spec allows it: at least two standbys that may be synchronous.
    quorum: Math.min(r.quorum, Math.max(1, r.tags.slice(0, r.count).filter((t) => !t.nosync).length - 1)),
    maximumLagOnFailover: r.maximumLagOnFailover,
    failureThreshold: r.failureThreshold,
    leaseTtlMs: r.leaseTtlMs,
    fenceWaitMs: r.leaseTtlMs + r.fenceExtra,
    walReceiverTimeoutMs: r.walReceiverTimeoutMs,
    maxWrite: r.maxWrite,
    proberSkewMs: r.proberSkewMs,
    deciderSkewMs: r.deciderSkewMs,
    hostClocks: r.hostClocks.slice(0, r.count),
  }));

export const historyArb: fc.Arbitrary<History> = fc.record({
  cfg: configArb,
  seed: fc.integer(),
  segments: fc.array(fc.record({ fault: faultArb, rounds }), { minLength: 1, maxLength: 12 }),
});

/** Probe rounds the decider is given after every fault heals (the liveness bound). */
export const HEAL_ROUNDS = 100;

// ---- the run ----

const NOT_FOR_ECHOES = new Set(['ActionSucceeded', 'ActionFailed']);

/** Freeze an object graph; parts already frozen (shared with an earlier state) are skipped. */
function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value as object)) deepFreeze(v);
  return value;
}

export class Sim {
  readonly spec: ClusterSpec;
  readonly world: World;
  state: ClusterState;
  readonly log: DecisionEvent[] = [];
  private readonly rand: () => number;
  /** Executions by intent id and request time: when, and whether an answer is still on its way. */
  private readonly executed = new Map<string, { at: number; answerComing: boolean }>();
  private queue: { at: number; cmd: Command }[] = [];
  private late: LateRequest[] = [];
  private skipReactor = false;
  private chaos: boolean;
  private maxTerm = 0;
  private readonly fencedTerms = new Set<number>();
  private readonly promotedTerms = new Map<number, string>();
  readonly completedTerms = new Map<number, number>();
  /** Terms promoted whose failover ended before its endpoints (a failover away from the new primary followed). */
  private readonly supersededTerms = new Set<number>();
  decideCalls = 0;

  constructor(
    readonly history: History,
    readonly opts: RunOptions,
  ) {
    this.spec = specOf(history.cfg);
    this.rand = prng(history.seed);
    // The lease proof of rule 3 holds only while an agent enforces it. The decider refuses the
    // proof when the agent had stopped renewing before its node went silent; an agent dying
    // within one lease TTL of that is the residual double fault, closed on hosts by the systemd
    // unit binding PostgreSQL to the agent (ARCHITECTURE.md). The world models that binding.
    this.world = new World({ agentSupervisesPostgres: true, ...history.cfg }, this.rand, 'pg1');
    this.world.checking = new Set(opts.checking);
    this.state = initialState('main');
    this.chaos = opts.chaos;
    this.run({ type: 'initialize', now: T0, spec: this.spec, primary: 'pg1' });
  }

  get violations(): string[] {
    return this.world.violations;
  }

  private violate(rule: Rule, msg: string): void {
    this.world.violate(rule, msg);
  }

  /** One decide call, checked: total, deterministic, not mutating its input; then each event. */
  run(worldCmd: Command): void {
    // Decide runs on its own clock, which may differ from the prober's (bounded skew).
    const cmd: Command = { ...worldCmd, now: worldCmd.now + (this.history.cfg.deciderSkewMs ?? 0) };
    this.decideCalls += 1;
    // Frozen deeply, so a decide that mutated its input would throw (ESM is strict mode).
    const before = deepFreeze(this.state);
    let d;
    try {
      d = decide(cmd, before);
    } catch (e) {
      this.violate('total', `decide threw on ${cmd.type}: ${(e as Error).stack ?? String(e)}`);
      return;
    }
    const again = decide(cmd, before);
    if (JSON.stringify(again) !== JSON.stringify(d)) this.violate('total', `decide is not deterministic on ${cmd.type}`);
    if (!d.ok) return;
    // The control plane reaches no host (one whose PostgreSQL is down still refuses connections).
    const noneReachable = ![...this.world.nodes.values()].some((n) => this.world.cpReaches(n));
    let s = before;
    for (const e of d.events) {
      // What is appended must read back as it was written, or every later load refuses the log.
      const parsed = DecisionEvent.safeParse(e);
      if (!parsed.success) return this.violate('total', `decide emitted an unreadable ${e.type}: ${parsed.error.message}`);
      if (JSON.stringify(parsed.data) !== JSON.stringify(e)) return this.violate('total', `decide emitted a ${e.type} that reads back differently`);
      this.check(e, s, cmd, noneReachable);
      try {
        s = evolve(s, e);
      } catch (err) {
        this.violate('total', `evolve threw on ${e.type}: ${String(err)}`);
        return;
      }
      this.log.push(e);
    }
    this.state = s;
    if (s.spec) this.world.logSpec = s.spec;
    this.world.logTerm = s.term;
  }

  private check(e: DecisionEvent, s: ClusterState, cmd: Command, noneReachable: boolean): void {
    const w = this.world;
    if (NOT_FOR_ECHOES.has(e.type)) {
      if ('intent' in e && e.term !== e.intent.term) this.violate('terms', `${e.type} carries term ${e.term}, its intent ${e.intent.term}`);
    } else {
      if (e.term < this.maxTerm) this.violate('terms', `term fell: ${e.type} in term ${e.term} after term ${this.maxTerm}`);
      if (e.type === 'FailoverStarted' && e.term <= this.maxTerm) this.violate('terms', `FailoverStarted did not raise the term (${e.term} after ${this.maxTerm})`);
      this.maxTerm = Math.max(this.maxTerm, e.term);
    }
    switch (e.type) {
      case 'ActionRequested': {
        const i = e.intent;
        if (i.term !== e.term || i.term < s.term) this.violate('terms', `intent ${i.id} requested in term ${e.term}, state term ${s.term}`);
        if (noneReachable) this.violate('blindIntents', `intent ${i.id} requested on ${cmd.type} while no node is reachable`);
        // The log's primary started again after it stopped (itself, or by the control plane in an
        // earlier term, restartPrimary.ts): not a promotion, whatever term it takes.
        const restart = i.action === 'promote' && i.id.endsWith(':restart') && i.node === s.primary && i.term >= s.term;
        if (i.action === 'promote' && !restart) {
          if (s.blind) this.violate('pausedBlind', `promotion of ${i.node} (term ${i.term}) requested while blind, on ${cmd.type}`);
          if (s.paused && s.failover?.kind === 'failover') this.violate('pausedBlind', `automatic promotion of ${i.node} (term ${i.term}) requested while paused, on ${cmd.type}`);
          if (!this.fencedTerms.has(i.term)) this.violate('fencing', `promotion of ${i.node} requested before any Fenced of term ${i.term} (rule 3)`);
          if (this.spec.nodes.find((n) => n.name === i.node)?.tags.nofailover) this.violate('candidate', `promotion of nofailover node ${i.node} requested`);
        }
        return;
      }
      case 'Fenced': {
        this.fencedTerms.add(e.term);
        const n = w.nodes.get(e.node);
        if (!n) return this.violate('fencing', `Fenced names unknown node ${e.node}`);
        if (e.by === 'agent' || e.by === 'demote') {
          if (w.running(n) && n.pg === 'primary') this.violate('fencing', `Fenced by ${e.by} but ${e.node} runs as primary`);
        } else if (e.by === 'syncQuorum') {
          if (w.cfg.mode !== 'synchronous') return this.violate('fencing', 'Fenced by syncQuorum in async mode');
          // Whom the old primary really waits for: its own setting, besides the spec's members.
          const setting = parseSyncNames(n.syncNames);
          const members = new Set([...(s.spec?.nodes ?? []).filter((x) => !x.tags.nosync).map((x) => x.name), ...s.syncSet, ...(setting === null || setting === 'unparsed' ? [] : setting.names)]);
          members.delete(e.node);
          for (const m of members) {
            const mn = w.node(m);
            if (!(w.cpReaches(mn) && w.running(mn))) this.violate('fencing', `Fenced by syncQuorum but member ${m} is not reachable`);
            else if (w.streamsFrom(mn) === e.node) this.violate('fencing', `Fenced by syncQuorum but ${m} streams from ${e.node}`);
          }
        } else if (e.by === 'lease') {
          const quiet = w.now - n.leaseRenewedAt;
          if (quiet < this.spec.timing.fenceWaitMs) this.violate('fencing', `Fenced by lease but ${e.node}'s lease was renewed ${quiet} ms ago`);
          // Rule 3's invariant, on the world's facts: its agent has stopped it (a frozen host's agent checks before it serves again).
          if (w.running(n) && n.pg === 'primary' && !w.frozen(n)) this.violate('fencing', `Fenced by lease but ${e.node} still runs as primary: its agent has not stopped it`);
        }
        return;
      }
      case 'Promoted': {
        if (this.promotedTerms.has(e.term)) this.violate('splitBrain', `two Promoted in term ${e.term}: ${this.promotedTerms.get(e.term)} and ${e.node}`);
        this.promotedTerms.set(e.term, e.node);
        if (!w.promotions.some((p) => p.term === e.term && p.node === e.node)) this.violate('splitBrain', `Promoted ${e.node} in term ${e.term} but the world never promoted it`);
        return;
      }
      case 'FailoverAborted':
        if (this.promotedTerms.has(e.term)) this.supersededTerms.add(e.term);
        return;
      case 'FailoverCompleted': {
        const c = (this.completedTerms.get(e.term) ?? 0) + 1;
        this.completedTerms.set(e.term, c);
        if (c > 1) this.violate('exactlyOnce', `FailoverCompleted twice in term ${e.term}`);
        if (!this.promotedTerms.has(e.term)) this.violate('exactlyOnce', `FailoverCompleted in term ${e.term} without a Promoted`);
        return;
      }
      default:
        return;
    }
  }

  // ---- the reactor ----

  private answer(intent: Intent, ok: boolean, reason: string, detail: Record<string, unknown> = {}): Command {
    return { type: 'actionResult', now: this.world.now, intentId: intent.id, ok, reason, detail };
  }

  private react(): void {
    const w = this.world;
    const due = this.queue.filter((q) => q.at <= w.now);
    this.queue = this.queue.filter((q) => q.at > w.now);
    for (const q of due) this.run({ ...q.cmd, now: w.now });
    if (this.skipReactor) {
      this.skipReactor = false;
      return;
    }
    for (let pass = 0; pass < 3; pass++) {
      let acted = false;
      for (const p of [...this.state.pending]) {
        if (!this.state.pending.some((x) => x.intent.id === p.intent.id && x.requestedAt === p.requestedAt)) continue;
        const key = `${p.intent.id}@${p.requestedAt}`;
        const prev = this.executed.get(key);
        if (prev && (prev.answerComing || w.now - prev.at < this.spec.timing.actionTimeoutMs)) continue;
        acted = true;
        const roll = this.chaos ? this.rand() : 1;
        if (roll < 0.05) {
          // The agent answers with an error before doing anything.
          this.executed.set(key, { at: w.now, answerComing: false });
          this.run(this.answer(p.intent, false, 'agent error'));
          continue;
        }
        const target = w.nodes.get(p.intent.node);
        if (roll >= 0.27 && roll < 0.31 && target && p.intent.action !== 'endpoints' && w.agentAnswers(target)) {
          // The agent is slow: the reactor gives up at its timeout, the agent runs the request later.
          this.executed.set(key, { at: w.now, answerComing: false });
          this.holdLate(p.intent, target, w.now + PROBE_INTERVAL_MS * (1 + Math.floor(this.rand() * 12)));
          this.run(this.answer(p.intent, false, 'agent unreachable: timed out'));
          continue;
        }
        const reply = this.execute(p.intent);
        // A host that is up but frozen, hung or cut off may hold the request and run it later.
        if (reply === null && this.chaos && target && target.hostUp && target.agentAlive && p.intent.action !== 'endpoints' && this.rand() < 0.5) this.holdLate(p.intent, target, w.now);
        const cmd = reply === null ? this.answer(p.intent, false, 'agent unreachable: timed out') : this.answer(p.intent, reply.ok, reply.reason, reply.detail);
        if (roll < 0.12) {
          // Executed, but decide crashed before the answer was appended: the reactor retries later.
          this.executed.set(key, { at: w.now, answerComing: false });
        } else if (roll < 0.2) {
          this.executed.set(key, { at: w.now, answerComing: true });
          this.queue.push({ at: w.now + PROBE_INTERVAL_MS * (1 + Math.floor(this.rand() * 6)), cmd });
        } else if (roll < 0.27) {
          this.executed.set(key, { at: w.now, answerComing: false });
          this.run(cmd);
          this.queue.push({ at: w.now + PROBE_INTERVAL_MS * (1 + Math.floor(this.rand() * 12)), cmd });
        } else {
          this.executed.set(key, { at: w.now, answerComing: false });
          this.run(cmd);
        }
      }
      if (!acted) break;
    }
  }

  private holdLate(intent: Intent, n: { name: string; agentStartedAt: number }, notBefore: number): void {
    this.late.push({ node: n.name, intent, signedAt: this.world.now + (this.history.cfg.deciderSkewMs ?? 0), notBefore, agent: n.agentStartedAt });
  }

  /** Requests the reactor gave up on, run now by agents that can: their answers reach no one. */
  private deliverLate(): void {
    const w = this.world;
    const keep: LateRequest[] = [];
    for (const r of this.late) {
      const n = w.nodes.get(r.node);
      if (!n || !n.hostUp || !n.agentAlive || n.agentStartedAt !== r.agent) continue;
      if (!w.agentRuns(n) || w.now < r.notBefore) {
        keep.push(r);
        continue;
      }
      // The agent refuses a request signed further from its clock than maxSkewMs (and its replay cache forgets it).
      if (Math.abs(w.hostNow(n) - r.signedAt) > MAX_SKEW_MS) continue;
      this.execute(r.intent, true);
    }
    this.late = keep;
  }

  /** Execute in the world; a promotion that took effect is checked against what the world holds. */
  private execute(intent: Intent, delivered = false) {
    const w = this.world;
    const before = w.promotions.length;
    const reply = w.execute(intent, delivered);
    if (w.promotions.length > before) {
      const n = w.node(intent.node);
      const f = this.state.failover && this.state.failover.term === intent.term ? this.state.failover : null;
      const at = n.lsn;
      if (n.nofailover) this.violate('candidate', `world promoted nofailover node ${n.name} (term ${intent.term})`);
      if (w.cfg.mode === 'async') {
        const last = f ? w.lastKnownWalLsn(f.from) : null;
        if (f === null) this.violate('candidate', `world promoted ${n.name} for term ${intent.term} with no failover of that term in progress`);
        else if (last === null) this.violate('candidate', `world promoted ${n.name} although ${f.from}'s last LSN was never seen`);
        else if (last - at > w.cfg.maximumLagOnFailover) this.violate('candidate', `promoted ${n.name} at ${at} is ${last - at} bytes behind ${f.from}'s last LSN ${last} (maximumLagOnFailover ${w.cfg.maximumLagOnFailover})`);
      } else {
        for (const [tl, acked] of w.ackedByTl) {
          if (w.posOn(n, tl) < acked) this.violate('candidate', `promoted ${n.name} (term ${intent.term}) lacks acknowledged commits: timeline ${tl} acked to ${acked}, it holds ${w.posOn(n, tl)}`);
        }
      }
    }
    return reply;
  }

  // ---- faults and operators ----

  private nodeName(i: number): string {
    const names = this.history.cfg.nodes.map((n) => n.name);
    if (i < 0) return this.state.primary ?? 'pg1';
    return names[i % names.length]!;
  }

  apply(f: Fault): void {
    const w = this.world;
    const until = (r: number) => w.now + r * PROBE_INTERVAL_MS;
    const obs = () => w.lastRound;
    const now = w.now;
    switch (f.kind) {
      case 'crash':
        return w.crashHost(this.nodeName(f.node));
      case 'pgCrash':
        return w.crashPostgres(this.nodeName(f.node));
      case 'agentDie':
        w.node(this.nodeName(f.node)).agentAlive = false;
        return;
      case 'restart':
        return w.restart(this.nodeName(f.node), this.state);
      case 'stall':
        w.node(this.nodeName(f.node)).frozenUntil = until(f.rounds);
        return;
      case 'partition':
        w.node(this.nodeName(f.node)).partitionedUntil = until(f.rounds);
        return;
      case 'isolate':
        w.node(this.nodeName(f.node)).isolatedUntil = until(f.rounds);
        return;
      case 'split':
        for (const name of new Set([this.nodeName(f.node), this.nodeName(f.with)])) w.node(name).splitUntil = until(f.rounds);
        return;
      case 'lag':
        w.node(this.nodeName(f.node)).lagUntil = until(f.rounds);
        return;
      case 'leaseStop':
        w.node(this.nodeName(f.node)).leaseBlockedUntil = until(f.rounds);
        return;
      case 'agentHang':
        w.node(this.nodeName(f.node)).hungUntil = until(f.rounds);
        return;
      case 'replayLag':
        w.node(this.nodeName(f.node)).replayStalledUntil = until(f.rounds);
        return;
      case 'removeNode':
        return this.run({ type: 'removeNode', now, node: this.nodeName(f.node), requestedBy: 'ops' });
      case 'addNode': {
        // A node removed earlier comes back under its old name and address (else a duplicate, refused).
        const removed = this.spec.nodes.filter((n) => !this.state.spec?.nodes.some((m) => m.name === n.name));
        const spec = removed.length > 0 ? removed[Math.abs(f.node) % removed.length]! : this.spec.nodes.find((n) => n.name === this.nodeName(f.node))!;
        return this.run({ type: 'addNode', now, node: spec, requestedBy: 'ops' });
      }
      case 'blind':
        w.blindUntil = until(f.rounds);
        return;
      case 'decideCrash':
        this.skipReactor = true;
        return;
      case 'proberRestart':
        return w.restartProber();
      case 'pause':
        return this.run({ type: 'pause', now, requestedBy: 'ops' });
      case 'resume':
        return this.run({ type: 'resume', now, requestedBy: 'ops' });
      case 'switchover':
        return this.run({ type: 'switchover', now, to: f.to === null ? null : this.nodeName(f.to), requestedBy: 'ops', observations: obs() });
      case 'failover':
        return this.run({ type: 'failover', now, to: this.nodeName(f.to), force: f.force, requestedBy: 'ops', observations: obs() });
      case 'rejoin':
        return this.run({ type: 'rejoin', now, node: this.nodeName(f.node), requestedBy: 'ops' });
      case 'junk':
        return this.run(this.junk(f.which));
      case 'none':
        return;
      default: {
        const unhandled: never = f;
        return unhandled;
      }
    }
  }

  /** Commands a confused operator or a buggy caller might send: valid in shape, wrong in sense. */
  private junk(which: number): Command {
    const now = this.world.now;
    const by = 'intern';
    switch (which) {
      case 0:
        return { type: 'switchover', now, to: 'pg9', requestedBy: by, observations: this.world.lastRound };
      case 1:
        return { type: 'failover', now, to: 'nosuch', force: true, requestedBy: by, observations: [] };
      case 2:
        return { type: 'failover', now, to: this.state.primary ?? 'pg1', force: true, requestedBy: by, observations: this.world.lastRound };
      case 3:
        return { type: 'rejoin', now, node: 'ghost', requestedBy: by };
      case 4:
        return { type: 'initialize', now, spec: this.spec, primary: 'pg2' };
      case 5:
        return { type: 'actionResult', now, intentId: `junk:${now}`, ok: true, reason: 'made up', detail: {} };
      case 6:
        return { type: 'removeNode', now, node: this.state.primary ?? 'pg1', requestedBy: by };
      case 7:
        return { type: 'removeNode', now, node: 'ghost', requestedBy: by };
      case 8:
        return { type: 'tick', now, observations: [] };
      default:
        // An observation from another cluster, and one from the future.
        return {
          type: 'probeRound',
          now,
          observations: this.world.lastRound.map((o, i) => (i === 0 ? { ...o, cluster: 'other', role: 'primary' as const } : { ...o, at: o.at + 60_000 })),
        };
    }
  }

  /** One probe interval: the world moves, the prober writes, decide runs, the reactor acts. */
  round(): void {
    this.world.advance();
    this.deliverLate();
    const observations = this.world.probe();
    this.run({ type: 'probeRound', now: this.world.now, observations });
    this.react();
  }

  play(): void {
    for (const seg of this.history.segments) {
      this.apply(seg.fault);
      for (let r = 0; r < seg.rounds && this.violations.length === 0; r++) this.round();
      if (this.violations.length > 0) return;
    }
    if (this.opts.heal) this.heal();
    const replayed = fold(initialState('main'), this.log);
    if (JSON.stringify(replayed) !== JSON.stringify(this.state)) this.violate('total', 'the log folded from scratch differs from the state built call by call');
  }

  /** Clear every fault, make the reactor reliable, resume, and give the decider time to settle. */
  heal(): void {
    const w = this.world;
    this.chaos = false;
    w.blindUntil = 0;
    for (const n of w.nodes.values()) {
      n.frozenUntil = n.partitionedUntil = n.isolatedUntil = n.splitUntil = n.lagUntil = n.leaseBlockedUntil = n.hungUntil = n.replayStalledUntil = 0;
    }
    if (this.state.paused) this.run({ type: 'resume', now: w.now, requestedBy: 'ops' });
    const healedAt = this.log.length;
    for (let r = 0; r < HEAL_ROUNDS && this.violations.length === 0; r++) {
      for (const n of w.nodes.values()) if (!n.hostUp || !n.agentAlive || n.pg === 'stopped') w.restart(n.name, this.state);
      this.round();
      if (r >= 24 && this.state.failover === null && this.state.pending.length === 0 && this.writable() === null) break;
    }
    if (this.violations.length > 0) return;
    for (const [term, node] of this.promotedTerms) {
      const c = this.completedTerms.get(term) ?? 0;
      if (c !== 1 && !(c === 0 && this.supersededTerms.has(term))) this.violate('exactlyOnce', `term ${term} promoted ${node} but has ${c} FailoverCompleted after healing`);
    }
    const f = this.state.failover;
    if (f) this.violate('exactlyOnce', `a ${f.kind} ${f.from}→${f.to} of term ${f.term} is still at step ${f.step} after the cluster healed`);
    // Liveness (issue 13): a writable primary behind the writer endpoint, or the reason recorded.
    const missing = this.writable();
    const why = this.log.slice(healedAt).some((e) => e.type === 'FailoverImpossible') || this.state.impossibleReportedFor === this.state.term;
    if (missing !== null && !why) this.violate('liveness', `${HEAL_ROUNDS} rounds after every fault healed, no writable primary and no FailoverImpossible: ${missing}`);
  }

  /** Null when the log's primary runs as primary in the world, in sight, and the writer endpoint points at it; else what is missing. */
  private writable(): string | null {
    const p = this.state.primary;
    if (p === null) return 'the log names no primary';
    const n = this.world.node(p);
    if (!this.world.running(n) || n.pg !== 'primary') return `${p}, primary of term ${this.state.term} in the log, is ${n.hostUp ? n.pg : 'down'} in the world`;
    if (this.world.writer !== p) return `the writer endpoint points at ${this.world.writer ?? 'nothing'}, not the primary ${p}`;
    return null;
  }

  /** A readable account of the run for a failure report. */
  trace(): string {
    const lines = this.log
      .filter((e) => !['NodeUp', 'LagExceeded', 'LagRecovered', 'SyncSetChanged'].includes(e.type))
      .slice(-60)
      .map((e) => `  ${String(e.at - T0).padStart(6)} t${e.term} ${e.type}${'intent' in e ? ` ${e.intent.id}` : ''}${'by' in e ? ` by ${e.by}` : ''}: ${e.reason}`);
    return lines.join('\n');
  }
}

export function replay(h: History, opts: RunOptions): Sim {
  const sim = new Sim(h, opts);
  sim.play();
  return sim;
}
