/**
 * Property tests of the pure decider over random histories of a simulated cluster
 * (world.ts, history.ts): crashes, stalls, partitions, lagging standbys, dead agents,
 * stopped lease renewals, operator commands at random moments, and a reactor whose
 * answers fail, arrive late, twice, or never (decide crashed before it ran).
 *
 * One sweep replays the histories once and checks every invariant; each invariant then
 * has its own test, which on failure replays the first failing history through
 * fast-check so it shrinks to a small counterexample.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import { Command } from '../../../lib/domain/commands.ts';
import { decide } from '../../../lib/domain/decide.ts';
import type { DecisionEvent } from '../../../lib/domain/events.ts';
import { evolve, fold } from '../../../lib/domain/evolve.ts';
import { initialState, type ClusterState } from '../../../lib/domain/state.ts';
import { configArb, faultArb, HEAL_ROUNDS, historyArb, replay, type History, type RunOptions } from './history.ts';
import { lsnText, PROBE_INTERVAL_MS, RULES, specOf, T0, type Rule } from './world.ts';

const RUNS = 1000;
/**
 * CI runs a fixed seed, so a red run means the decider changed, not the dice. Explore with
 * PROPERTY_SEED=random (a fresh seed, printed) or replay one with PROPERTY_SEED=n. Seeds that
 * found a gap are listed in ARCHITECTURE.md (open problems, and the ones closed).
 */
const FIXED_SEED = 1583753991;
const seedEnv = process.env['PROPERTY_SEED'];
const SEED = seedEnv === 'random' ? Math.floor(Math.random() * 2 ** 31) : seedEnv ? Number(seedEnv) : FIXED_SEED;
const FULL: RunOptions = { chaos: true, heal: true, checking: RULES.filter((r) => r !== 'blindIntents') };

const PROPERTIES: Record<Exclude<Rule, 'blindIntents'>, string> = {
  splitBrain: 'at most one primary per term, and never two primaries acknowledging writes after a promotion',
  terms: 'terms only rise in the log',
  candidate: 'never a promotion of a nofailover node, of a standby beyond maximumLagOnFailover (async), or of one lacking an acknowledged commit (synchronous)',
  pausedBlind: 'never a promotion requested while paused (automatic failover) or while blind',
  fencing: 'never a promotion before a Fenced of its term, and Fenced only when a fencing condition of rule 3 truly held',
  exactlyOnce: 'a failover interrupted after any step and resumed from the log completes exactly once (or, promoted, is followed by the failover away from its failed primary)',
  liveness: `after every fault heals, with no operator, the cluster has a writable primary behind the writer endpoint within ${HEAL_ROUNDS} probe rounds (${HEAL_ROUNDS * PROBE_INTERVAL_MS / 1000} s), or the log says why not (FailoverImpossible)`,
  total: 'evolve and decide are total and deterministic, and the log folds back to the same state',
};

/** Replay one history, checking only `rule`, and throw its violations with the decision log's tail. */
function holds(h: History, rule: Rule, opts: RunOptions = FULL): void {
  const sim = replay(h, { ...opts, checking: [rule] });
  if (sim.violations.length > 0) throw new Error(`${sim.violations.join('\n')}\n-- decision log (tail):\n${sim.trace()}`);
}

describe(`the decider over ${RUNS} random histories of a simulated cluster (PROPERTY_SEED=${SEED})`, () => {
  const firstFailure = new Map<Rule, number>();
  const stats = { histories: 0, decideCalls: 0, failovers: 0, promotions: 0, switchovers: 0 };

  before(() => {
    let index = 0;
    // The sweep: every history once, every invariant; remember the first failing run of each.
    fc.check(
      fc.property(historyArb, (h) => {
        const sim = replay(h, FULL);
        stats.histories += 1;
        stats.decideCalls += sim.decideCalls;
        stats.promotions += sim.world.promotions.length;
        for (const e of sim.log) {
          if (e.type === 'FailoverStarted' && e.kind === 'switchover') stats.switchovers += 1;
          else if (e.type === 'FailoverStarted') stats.failovers += 1;
        }
        for (const v of sim.violations) {
          const rule = /^\[(\w+),/.exec(v)?.[1] as Rule | undefined;
          if (rule && !firstFailure.has(rule)) firstFailure.set(rule, index);
        }
        index += 1;
        return true;
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  for (const [rule, says] of Object.entries(PROPERTIES) as [Exclude<Rule, 'blindIntents'>, string][]) {
    test(says, () => {
      assert.equal(stats.histories, RUNS);
      const at = firstFailure.get(rule);
      if (at === undefined) return;
      // Replay the failing run through fast-check so the report is a shrunk counterexample.
      fc.assert(
        fc.property(historyArb, (h) => holds(h, rule)),
        { seed: SEED, path: String(at), includeErrorInReport: true },
      );
    });
  }

  test('the histories exercise failovers, switchovers and promotions', (t) => {
    t.diagnostic(`seed ${SEED}: ${JSON.stringify(stats)}`);
    assert.ok(stats.failovers > RUNS / 20, `only ${stats.failovers} failovers started in ${RUNS} histories`);
    assert.ok(stats.promotions > RUNS / 20, `only ${stats.promotions} promotions in ${RUNS} histories`);
    assert.ok(stats.switchovers > 0, 'no switchover started');
  });
});

describe('targeted properties', () => {
  // Beyond the lease TTL a stalled primary fences itself when it wakes: its agent can't have
  // renewed, and no standby has replied to it within the TTL (rule 3's invariant: the agent
  // serves past a lapse only while every standby does), so a failover then is right. Its
  // lease lapses up to one renewal period (here one round) before the stall reaches the TTL.
  test('a stall of the primary shorter than the failure window + wal_receiver_timeout, and than the lease TTL, never starts a failover', () => {
    fc.assert(
      fc.property(configArb, fc.integer(), fc.integer({ min: 0, max: 12 }), fc.nat(), (cfg, seed, before, d) => {
        const window = Math.min(PROBE_INTERVAL_MS * cfg.failureThreshold + cfg.walReceiverTimeoutMs, cfg.leaseTtlMs - PROBE_INTERVAL_MS);
        const stallRounds = 1 + (d % Math.max(1, Math.ceil(window / PROBE_INTERVAL_MS) - 1));
        fc.pre(stallRounds * PROBE_INTERVAL_MS < window);
        const h: History = {
          cfg,
          seed,
          segments: [
            { fault: { kind: 'none' }, rounds: 1 + before },
            { fault: { kind: 'stall', node: 0, rounds: stallRounds }, rounds: stallRounds + 40 },
          ],
        };
        const sim = replay(h, { chaos: false, heal: false, checking: [] });
        const started = sim.log.filter((e) => e.type === 'FailoverStarted');
        assert.deepEqual(
          started.map((e) => e.reason),
          [],
          `a ${stallRounds * PROBE_INTERVAL_MS} ms stall (window ${PROBE_INTERVAL_MS * cfg.failureThreshold} ms + wal_receiver_timeout ${cfg.walReceiverTimeoutMs} ms) started a failover`,
        );
      }),
      { numRuns: 300, seed: SEED, includeErrorInReport: true },
    );
  });

  test('a control plane cut off from a healthy primary, whose standbys still stream from it, never starts a failover', () => {
    fc.assert(
      fc.property(configArb, fc.integer(), fc.integer({ min: 1, max: 80 }), fc.boolean(), (cfg, seed, rounds, leaseToo) => {
        const h: History = {
          cfg,
          seed,
          segments: [
            ...(leaseToo ? [{ fault: { kind: 'leaseStop' as const, node: 0, rounds }, rounds: 0 }] : []),
            { fault: { kind: 'partition', node: 0, rounds }, rounds: rounds + 4 },
          ],
        };
        const sim = replay(h, { chaos: false, heal: false, checking: [] });
        const started = sim.log.filter((e) => e.type === 'FailoverStarted' || e.type === 'Fenced');
        assert.deepEqual(started.map((e) => e.reason), [], `a ${rounds * PROBE_INTERVAL_MS} ms partition of the control plane from pg1 took it down`);
        assert.equal(sim.world.node('pg1').pg, 'primary', 'pg1 stopped serving');
      }),
      { numRuns: 300, seed: SEED, includeErrorInReport: true },
    );
  });

  test('synchronous mode: a primary cut off from everyone that comes back never acknowledges a commit its successor lacks', () => {
    const cutOff = fc.record({
      cfg: configArb.map((c) => ({ ...c, mode: 'synchronous' as const })),
      seed: fc.integer(),
      segments: fc
        .tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 4, max: 24 }), fc.constantFrom('isolate' as const, 'stall' as const))
        .map(([before, rounds, kind]): History['segments'] => [
          { fault: { kind: 'none' }, rounds: before },
          { fault: { kind, node: -1, rounds }, rounds: rounds + 12 },
        ]),
    });
    fc.assert(
      fc.property(cutOff, (h) => holds(h, 'candidate', { chaos: true, heal: true, checking: ['candidate'] })),
      { numRuns: 500, seed: SEED, includeErrorInReport: true },
    );
  });

  // Rule 3's lease proof with a hung agent: PostgreSQL serves on, nothing renews or self-fences,
  // and only the watchdog stops it. A witness off the primary from before the hang (a standby
  // whose PostgreSQL crashed) makes the proof hold as early as it can: one fenceWaitMs after the
  // last renewal was seen. Judged on the world: Fenced by lease only once PostgreSQL is stopped.
  test('a hung agent beside a serving primary cut off from everyone is never counted fenced by its lease before its watchdog stopped it', () => {
    const hung = fc.record({
      cfg: configArb,
      seed: fc.integer(),
      segments: fc
        .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 4, max: 16 }), fc.integer({ min: 20, max: 60 }))
        .map(([witness, before, rounds]): History['segments'] => [
          { fault: { kind: 'pgCrash', node: witness }, rounds: before },
          { fault: { kind: 'agentHang', node: 0, rounds }, rounds: 0 },
          { fault: { kind: 'isolate', node: 0, rounds }, rounds: rounds + 8 },
        ]),
    });
    fc.assert(
      fc.property(hung, (h) => holds(h, 'fencing', { chaos: false, heal: true, checking: ['fencing'] })),
      { numRuns: 200, seed: SEED, includeErrorInReport: true },
    );
  });

  // Issue 12 path 5: a quorum member whose replay trails what it received, restarted once its
  // primary is gone, reports replay only (receive is NULL until its receiver streams), a lower
  // bound of the WAL it holds; another member with less must not be chosen over it.
  test('synchronous mode: a standby restarted behind its own replay after the primary crashed never lets a member lacking a commit be promoted', () => {
    const restarted = fc.record({
      cfg: configArb.map((c) => ({ ...c, mode: 'synchronous' as const, maxWrite: 20000 })),
      seed: fc.integer(),
      segments: fc
        .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 10 }))
        .map(([behind, other, before]): History['segments'] => [
          { fault: { kind: 'replayLag', node: behind, rounds: 60 }, rounds: before },
          { fault: { kind: 'lag', node: other, rounds: 60 }, rounds: 4 },
          { fault: { kind: 'crash', node: 0 }, rounds: 0 },
          { fault: { kind: 'pgCrash', node: behind }, rounds: 0 },
          { fault: { kind: 'restart', node: behind }, rounds: 30 },
        ]),
    });
    fc.assert(
      fc.property(restarted, (h) => holds(h, 'candidate', { chaos: false, heal: true, checking: ['candidate'] })),
      { numRuns: 200, seed: SEED, includeErrorInReport: true },
    );
  });

  test('a pause, or blindness, in the middle of an automatic failover stops it before any promotion', () => {
    // The primary fails; a few rounds later the operator pauses or the control plane goes
    // blind, while answers to earlier intents may still be on their way.
    const midFailover = fc.record({
      cfg: configArb,
      seed: fc.integer(),
      segments: fc
        .tuple(fc.constantFrom('pgCrash' as const, 'crash' as const), fc.integer({ min: 1, max: 10 }), fc.constantFrom('pause' as const, 'blind' as const))
        .map(([failure, after, interruption]): History['segments'] => [
          { fault: { kind: failure, node: -1 }, rounds: after },
          { fault: interruption === 'pause' ? { kind: 'pause' } : { kind: 'blind', rounds: 40 }, rounds: 30 },
        ]),
    });
    fc.assert(
      fc.property(midFailover, (h) => holds(h, 'pausedBlind', { chaos: true, heal: false, checking: ['pausedBlind'] })),
      { numRuns: 500, seed: SEED, includeErrorInReport: true },
    );
  });

  test('with no node reachable, no intent is ever requested', () => {
    const blind = fc.record({ kind: fc.constant('blind' as const), rounds: fc.integer({ min: 4, max: 60 }) });
    const blindHistory = fc.record({
      cfg: configArb,
      seed: fc.integer(),
      segments: fc.array(fc.record({ fault: fc.oneof(faultArb, blind), rounds: fc.integer({ min: 1, max: 30 }) }), { minLength: 1, maxLength: 10 }),
    });
    fc.assert(
      fc.property(blindHistory, (h) => holds(h, 'blindIntents', { chaos: true, heal: false, checking: ['blindIntents'] })),
      { numRuns: 300, seed: SEED, includeErrorInReport: true },
    );
  });

  test('decide and evolve are total over junk commands, and decide is deterministic', () => {
    const names = fc.constantFrom('pg1', 'pg2', 'pg3', 'pg4', 'zz');
    const lsn = fc.integer({ min: 0, max: 2 ** 40 }).map(lsnText);
    const obs = fc.record({
      v: fc.constant(1 as const),
      cluster: fc.constantFrom('main', 'main', 'other'),
      node: names,
      prober: fc.constantFrom('p1', 'p2'),
      at: fc.integer({ min: -30_000, max: 30_000 }),
      reachable: fc.boolean(),
      error: fc.option(fc.record({ kind: fc.constantFrom('refused' as const, 'timeout' as const, 'auth' as const, 'other' as const), message: fc.string() }), { nil: null }),
      consecutiveFailures: fc.nat(8),
      failingSince: fc.option(fc.integer({ min: -30_000, max: 0 }), { nil: null }),
      role: fc.constantFrom('primary' as const, 'standby' as const, 'unknown' as const),
      systemIdentifier: fc.option(fc.constant('7300000000000000001'), { nil: null }),
      foreign: fc.boolean(),
      timeline: fc.option(fc.nat(5), { nil: null }),
      walLsn: fc.option(lsn, { nil: null }),
      receiveLsn: fc.option(lsn, { nil: null }),
      replayLsn: fc.option(lsn, { nil: null }),
      lagBytes: fc.option(fc.nat(), { nil: null }),
      lagSeconds: fc.option(fc.nat(), { nil: null }),
      lastKnownWalLsn: fc.option(lsn, { nil: null }),
      walReceiver: fc.option(
        fc.record({ status: fc.constantFrom('streaming', 'waiting'), upstream: fc.option(names, { nil: null }), senderHost: fc.constant(null), senderPort: fc.constant(null), lastMsgReceiptAt: fc.constant(null) }),
        { nil: null },
      ),
      replication: fc.array(
        fc.record({ name: names, state: fc.constant('streaming'), syncState: fc.constantFrom('async' as const, 'potential' as const, 'sync' as const, 'quorum' as const), sentLsn: fc.option(lsn, { nil: null }), flushLsn: fc.option(lsn, { nil: null }), replayLsn: fc.option(lsn, { nil: null }) }),
        { maxLength: 3 },
      ),
      synchronousStandbyNames: fc.option(fc.string(), { nil: null }),
      lease: fc.option(fc.record({ version: fc.nat(9), changedSeenAt: fc.integer({ min: -30_000, max: 0 }), term: fc.nat(9) }), { nil: null }),
    });
    const by = fc.constantFrom('ops', 'x');
    const command = fc.oneof(
      fc.record({ type: fc.constantFrom('probeRound' as const, 'tick' as const), observations: fc.array(obs, { maxLength: 6 }) }),
      fc.record({ type: fc.constant('switchover' as const), to: fc.option(names, { nil: null }), requestedBy: by, observations: fc.array(obs, { maxLength: 5 }) }),
      fc.record({ type: fc.constant('failover' as const), to: names, force: fc.boolean(), requestedBy: by, observations: fc.array(obs, { maxLength: 5 }) }),
      fc.record({ type: fc.constantFrom('pause' as const, 'resume' as const), requestedBy: by }),
      fc.record({ type: fc.constantFrom('removeNode' as const, 'rejoin' as const), node: names, requestedBy: by }),
      fc.record({
        type: fc.constant('addNode' as const),
        node: fc.record({ name: names, host: fc.constant('127.0.0.1'), port: fc.integer({ min: 5432, max: 5436 }), agent: fc.constant('http://127.0.0.1:8008'), tags: fc.record({ priority: fc.nat(1000), nofailover: fc.boolean(), nosync: fc.boolean() }) }),
        requestedBy: by,
      }),
      fc.record({
        type: fc.constant('actionResult' as const),
        /** An index into the pending intents, or a made-up id. */
        pick: fc.option(fc.nat(5), { nil: null }),
        ok: fc.boolean(),
        reason: fc.string(),
        detail: fc.oneof(fc.constant({}), fc.record({ checkpointLsn: fc.oneof(lsn, fc.string(), fc.integer()) })),
      }),
      fc.record({ type: fc.constant('initialize' as const), primary: names }),
    );
    fc.assert(
      fc.property(configArb, fc.array(fc.record({ dt: fc.integer({ min: 0, max: 3_000 }), command }), { maxLength: 40 }), (cfg, steps) => {
        const spec = specOf(cfg);
        let state: ClusterState = initialState('main');
        const log: DecisionEvent[] = [];
        let now = T0;
        const apply = (cmd: Command) => {
          const first = decide(cmd, state);
          assert.deepEqual(decide(cmd, structuredClone(state)), first, `decide is not deterministic on ${cmd.type}`);
          if (!first.ok) return;
          for (const e of first.events) {
            state = evolve(state, e);
            log.push(e);
          }
        };
        apply({ type: 'initialize', now, spec, primary: 'pg1' });
        for (const { dt, command: c } of steps) {
          now += dt;
          let input: unknown;
          if (c.type === 'actionResult') {
            const id = c.pick === null ? `junk-${now}` : (state.pending[c.pick % Math.max(1, state.pending.length)]?.intent.id ?? 'none');
            input = { type: 'actionResult', now, intentId: id, ok: c.ok, reason: c.reason, detail: c.detail };
          } else if (c.type === 'initialize') {
            input = { type: 'initialize', now, spec, primary: c.primary };
          } else if ('observations' in c) {
            input = { ...c, now, observations: c.observations.map((o) => ({ ...o, at: now + o.at, failingSince: o.failingSince === null ? null : now + o.failingSince, lease: o.lease ? { ...o.lease, changedSeenAt: now + o.lease.changedSeenAt } : null })) };
          } else {
            input = { ...c, now };
          }
          const parsed = Command.safeParse(input);
          if (parsed.success) apply(parsed.data);
        }
        assert.deepEqual(fold(initialState('main'), log), state);
      }),
      { numRuns: RUNS, seed: SEED, includeErrorInReport: true },
    );
  });
});
