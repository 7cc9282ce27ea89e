import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../lib/domain/decide.ts';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import type { NodeObservation } from '../../lib/domain/observation.ts';
import type { ClusterSpec } from '../../lib/domain/spec.ts';
import { failureDeadlines, shouldWrite, type EdgeTriggerOptions } from '../../lib/probe/edgeTrigger.ts';
import { T0, initialized, makeSpec, obs, others, stateOf } from './domain/kit.ts';

/**
 * The same failure replayed through the decider twice: once with every round of a failing node
 * written (as the prober did before), once with the edge trigger as built (counts past the
 * threshold are no news; the decider's time limits are). decide runs on every round that wrote
 * something (the stream) and on the one-minute tick, with the newest written observation of each
 * node, as on AWS. The failover must start, and its promotion be asked, at the same round.
 */

type Scenario = {
  spec: ClusterSpec;
  /** What the prober sees at `t`; pg1 fails from `failAt`. */
  round(t: number): NodeObservation[];
};

const failAt = T0 + 30_000;
const until = T0 + 90_000;

/** Agents renew every second; the prober sees each renewal at the next round. */
const renewedAt = (t: number) => T0 + Math.floor((t - T0) / 1000) * 1000;
const lease = (node: string, t: number) => ({ version: Math.floor((t - T0) / 1000), changedSeenAt: renewedAt(t), term: 1, members: others(node), ttlMs: 3_000 });

function scenario(spec: ClusterSpec, kind: 'refused' | 'timeout', receiversDropAt: number): Scenario {
  const interval = spec.timing.probeIntervalMs;
  return {
    spec,
    round(t) {
      const standbys = ['pg2', 'pg3'].map((s) =>
        t < receiversDropAt
          ? obs.standby(s, t, 'pg1', { receiverSince: T0 - 10_000, lease: lease(s, t) })
          : obs.standby(s, t, null, { receiverSince: receiversDropAt, lease: lease(s, t) }),
      );
      if (t < failAt) return [obs.primary('pg1', t, ['pg2', 'pg3'], { lease: lease('pg1', t) }), ...standbys];
      const failures = Math.floor((t - failAt) / interval) + 1;
      // Host gone at failAt: its agent's lease stops there too.
      // Its last LSN was seen at the last round that answered.
      const over = { failingSince: failAt, lease: lease('pg1', failAt - 1), lastKnownWalAt: failAt - interval } as Partial<NodeObservation>;
      const pg1 = obs.failing('pg1', t, failures, over, kind);
      return [pg1, ...standbys];
    },
  };
}

type Policy = 'every round' | 'edge trigger';

type Replayed = { started: number | null; promoteAsked: number | null; restartAsked: number | null; decideRuns: number; writes: number };

function replay(s: Scenario, policy: Policy): Replayed {
  const timing = s.spec.timing;
  let history: DecisionEvent[] = initialized(s.spec);
  const written = new Map<string, NodeObservation>();
  let started: number | null = null;
  let promoteAsked: number | null = null;
  let restartAsked: number | null = null;
  let decideRuns = 0;
  let writes = 0;
  const run = (now: number, type: 'probeRound' | 'tick') => {
    decideRuns++;
    const d = decide({ type, now, observations: [...written.values()] }, stateOf(history));
    assert.ok(d.ok, d.ok ? '' : d.reason);
    history = [...history, ...d.events];
    if (started === null && d.events.some((e) => e.type === 'FailoverStarted')) started = now;
    if (promoteAsked === null && d.events.some((e) => e.type === 'ActionRequested' && e.intent.action === 'promote')) promoteAsked = now;
    if (restartAsked === null && d.events.some((e) => e.type === 'ActionRequested' && e.intent.action === 'follow' && e.intent.node === 'pg3')) restartAsked = now;
  };
  for (let t = T0; t <= until; t += timing.probeIntervalMs) {
    const round = s.round(t);
    let wrote = false;
    for (const o of round) {
      const opts: EdgeTriggerOptions =
        policy === 'every round'
          ? { heartbeatMs: timing.heartbeatMs, readLagLimit: s.spec.readLagLimit, deadlines: o.reachable ? [] : [o.at] }
          : {
              heartbeatMs: timing.heartbeatMs,
              readLagLimit: s.spec.readLagLimit,
              failureThreshold: timing.failureThreshold,
              leaseTtlMs: timing.leaseTtlMs,
              deadlines: failureDeadlines(o, round, timing),
            };
      if (!shouldWrite(written.get(o.node) ?? null, o, opts)) continue;
      written.set(o.node, o);
      writes++;
      wrote = true;
    }
    if (wrote) run(t, 'probeRound');
    if ((t - T0) % 60_000 === 0 && t > T0) run(t, 'tick');
  }
  return { started, promoteAsked, restartAsked, decideRuns, writes };
}

function compare(name: string, s: Scenario): void {
  test(name, () => {
    const before = replay(s, 'every round');
    const now = replay(s, 'edge trigger');
    assert.ok(before.started !== null, 'the failure starts a failover at all');
    assert.equal(now.started, before.started, 'failover starts at the same round');
    assert.equal(now.promoteAsked, before.promoteAsked, 'promotion is asked at the same round');
    assert.ok(now.writes < before.writes / 5, `writes ${now.writes} vs ${before.writes}`);
    console.log(`${name}: started_after_ms=${before.started! - failAt} promote_after_ms=${before.promoteAsked === null ? 'none' : before.promoteAsked - failAt} writes=${before.writes}->${now.writes} decide_runs=${before.decideRuns}->${now.decideRuns}`);
  });
}

/** pg3's PostgreSQL stops (refused) while its agent keeps renewing: the decider asks it to follow pg1 again. */
function stoppedStandby(spec: ClusterSpec): Scenario {
  const interval = spec.timing.probeIntervalMs;
  return {
    spec,
    round(t) {
      const healthy = [obs.primary('pg1', t, t < failAt ? ['pg2', 'pg3'] : ['pg2'], { lease: lease('pg1', t) }), obs.standby('pg2', t, 'pg1', { receiverSince: T0 - 10_000, lease: lease('pg2', t) })];
      if (t < failAt) return [...healthy, obs.standby('pg3', t, 'pg1', { receiverSince: T0 - 10_000, lease: lease('pg3', t) })];
      const failures = Math.floor((t - failAt) / interval) + 1;
      return [...healthy, obs.failing('pg3', t, failures, { failingSince: failAt, lease: lease('pg3', t) }, 'refused')];
    },
  };
}

test('a stopped standby whose agent renews is asked to follow again at the same round', () => {
  const before = replay(stoppedStandby(makeSpec()), 'every round');
  const now = replay(stoppedStandby(makeSpec()), 'edge trigger');
  assert.ok(before.restartAsked !== null, 'the decider asks for it at all');
  assert.equal(now.restartAsked, before.restartAsked);
  console.log(`stopped standby: restart_after_ms=${before.restartAsked! - failAt} writes=${before.writes}->${now.writes}`);
});

describe('the edge trigger starts failovers at the same moment as writing every round', () => {
  compare('crash (refused, receivers gone at once), synchronous', scenario(makeSpec(), 'refused', failAt));
  compare('silent host (timeouts, receivers gone after 2 s), synchronous', scenario(makeSpec(), 'timeout', failAt + 2_000));
  compare('silent host, asynchronous (the lease proof fences it)', scenario(makeSpec({ replication: { mode: 'async' } }), 'timeout', failAt + 2_000));
});
