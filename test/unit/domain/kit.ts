/**
 * Builders for decider tests: a cluster spec, observations of nodes in typical states,
 * and given(events).when(command).then(…) in the Emmett style.
 */
import { sameCommitQuorum, specSyncNames } from '../../../lib/domain/syncNames.ts';
import assert from 'node:assert/strict';
import type { Command } from '../../../lib/domain/commands.ts';
import { decide } from '../../../lib/domain/decide.ts';
import type { Decision } from '../../../lib/domain/decision.ts';
import type { DecisionEvent, Intent } from '../../../lib/domain/events.ts';
import { fold } from '../../../lib/domain/evolve.ts';
import { bigIntToLsn } from '../../../lib/domain/lsn.ts';
import type { NodeObservation } from '../../../lib/domain/observation.ts';
import { ClusterSpec, type ClusterSpecInput } from '../../../lib/domain/spec.ts';
import { observation } from '../../support/observation.ts';
import { initialState, type ClusterState } from '../../../lib/domain/state.ts';

export const T0 = 1_700_000_000_000;

export function makeSpec(over: Partial<ClusterSpecInput> = {}, names = ['pg1', 'pg2', 'pg3']): ClusterSpec {
  return ClusterSpec.parse({
    cluster: 'main',
    nodes: names.map((name, i) => ({ name, host: '127.0.0.1', port: 5432 + i, agent: `http://127.0.0.1:${8008 + i}` })),
    ...over,
  });
}

export const lsn = (n: number): string => bigIntToLsn(BigInt(n));

type ObsOver = Partial<NodeObservation>;

/** The members an agent of the 3-node spec counts (named in its lease): every other node. */
export const others = (node: string): string[] => ['pg1', 'pg2', 'pg3'].filter((n) => n !== node);

function base(node: string, at: number): NodeObservation {
  return observation(node, at, { role: 'standby', timeline: 1, lease: { version: 1, changedSeenAt: at, term: 1, members: others(node), ttlMs: 3_000 } });
}

export const obs = {
  primary(node: string, at: number, standbys: string[], over: ObsOver = {}): NodeObservation {
    return {
      ...base(node, at),
      role: 'primary',
      walLsn: lsn(1000),
      lastKnownWalLsn: lsn(1000),
      lastKnownWalAt: at,
      replication: standbys.map((s) => ({ name: s, state: 'streaming', syncState: 'quorum' as const, sentLsn: lsn(1000), flushLsn: lsn(1000), replayLsn: lsn(1000) })),
      synchronousStandbyNames: `ANY 1 (${standbys.join(', ')})`,
      ...over,
    };
  },
  standby(node: string, at: number, upstream: string | null, over: ObsOver = {}): NodeObservation {
    return {
      ...base(node, at),
      receiveLsn: lsn(1000),
      replayLsn: lsn(1000),
      lagBytes: 0,
      walReceiver: upstream ? { status: 'streaming', upstream, senderHost: '127.0.0.1', senderPort: 5432, lastMsgReceiptAt: at } : null,
      // The receiver has been in this state for a while unless a builder says otherwise.
      receiverSince: at - 10_000,
      ...over,
    };
  },
  /** A node that has failed `failures` probes in a row; its lease last changed at `leaseSeenAt`. */
  failing(node: string, at: number, failures: number, over: ObsOver = {}, kind: 'refused' | 'timeout' = 'refused'): NodeObservation {
    return {
      ...base(node, at),
      reachable: false,
      role: 'unknown',
      error: { kind, message: kind === 'refused' ? 'connect ECONNREFUSED' : 'timeout' },
      consecutiveFailures: failures,
      failingSince: at - failures * 250,
      lastKnownWalLsn: lsn(1000),
      // Seen at the last probe that answered, one interval before the first that failed.
      lastKnownWalAt: at - (failures + 1) * 250,
      lease: { version: 1, changedSeenAt: at - failures * 250, term: 1, members: others(node), ttlMs: 3_000 },
      ...over,
    };
  },
};

/** A probe round of these observations, decided at `now`. */
export const round = (observations: NodeObservation[], now: number): Command => ({ type: 'probeRound', now, observations });

/** A healthy 3-node round: pg1 primary, pg2 and pg3 streaming from it. */
export function healthyRound(at: number, primary = 'pg1', standbys = ['pg2', 'pg3']): NodeObservation[] {
  return [obs.primary(primary, at, standbys), ...standbys.map((s) => obs.standby(s, at, primary))];
}

/** A round right after pg1 crashed: connections refused, the standbys' receivers dropped at once. */
export function crashedRound(at: number, failures = 3, lsns: Record<string, number> = {}): NodeObservation[] {
  const since = at - failures * 250;
  return [
    obs.failing('pg1', at, failures),
    obs.standby('pg2', at, null, { receiveLsn: lsn(lsns['pg2'] ?? 1000), replayLsn: lsn(lsns['pg2'] ?? 1000), receiverSince: since }),
    obs.standby('pg3', at, null, { receiveLsn: lsn(lsns['pg3'] ?? 1000), replayLsn: lsn(lsns['pg3'] ?? 1000), receiverSince: since }),
  ];
}

/** After the crash round: pg3 detached from pg1 (streaming from the candidate pg2), so pg2's promotion is requested. */
export function detachedAfterCrash(history: readonly DecisionEvent[], now: number): DecisionEvent[] {
  return step(history, result(history, 'follow', 'pg3', now));
}

/**
 * A cluster initialized with `primary`; in synchronous mode its primary has also been seen
 * committing with the spec's quorum (the first probe round records that), as every healthy
 * cluster has. `reportedSyncNames: null` leaves that out, or gives another value.
 */
export function initialized(spec: ClusterSpec = makeSpec(), primary = 'pg1', opts: { reportedSyncNames?: string | null } = {}): DecisionEvent[] {
  const d = decide({ type: 'initialize', now: T0, spec, primary }, initialState(spec.cluster));
  assert.ok(d.ok);
  const value = opts.reportedSyncNames === undefined ? specSyncNames(spec) : opts.reportedSyncNames;
  if (spec.replication.mode !== 'synchronous' || value === null) return d.events;
  const expected = specSyncNames(spec);
  const matches = sameCommitQuorum(value, expected, primary);
  return [...d.events, { v: 1, at: T0, term: 1, reason: `${primary} commits with synchronous_standby_names '${value}'`, type: 'SyncNamesReported', node: primary, value, expected, matches }];
}

export function stateOf(events: readonly DecisionEvent[]): ClusterState {
  return fold(initialState('main'), events);
}

export interface Then {
  decision: Decision;
  events: DecisionEvent[];
  state: ClusterState;
  types: string[];
  /** The event of a type, asserting there is exactly one. */
  one<T extends DecisionEvent['type']>(type: T): Extract<DecisionEvent, { type: T }>;
  intents(action?: string): Intent[];
}

export function given(history: readonly DecisionEvent[]) {
  return {
    when(command: Command): Then {
      const before = stateOf(history);
      const decision = decide(command, before);
      const events = decision.ok ? decision.events : [];
      const state = fold(before, events);
      return {
        decision,
        events,
        state,
        types: events.map((e) => e.type),
        one(type) {
          const found = events.filter((e) => e.type === type);
          assert.equal(found.length, 1, `expected one ${type}, got ${events.map((e) => e.type).join(', ') || 'no events'}`);
          return found[0] as never;
        },
        intents(action) {
          return events
            .filter((e): e is Extract<DecisionEvent, { type: 'ActionRequested' }> => e.type === 'ActionRequested')
            .map((e) => e.intent)
            .filter((i) => action === undefined || i.action === action);
        },
      };
    },
  };
}

/** Run a command and return the history extended by its events. */
export function step(history: readonly DecisionEvent[], command: Command): DecisionEvent[] {
  const d = decide(command, stateOf(history));
  assert.ok(d.ok, d.ok ? '' : d.reason);
  return [...history, ...d.events];
}

/** The pending intent of an action on a node, for feeding a result back. */
export function pendingId(history: readonly DecisionEvent[], action: string, node: string): string {
  const p = stateOf(history).pending.find((x) => x.intent.action === action && x.intent.node === node);
  assert.ok(p, `no pending ${action} on ${node}`);
  return p.intent.id;
}

export function result(history: readonly DecisionEvent[], action: string, node: string, now: number, ok = true, detail: Record<string, unknown> = {}): Command {
  return { type: 'actionResult', now, intentId: pendingId(history, action, node), ok, reason: ok ? 'done' : 'failed', detail };
}
