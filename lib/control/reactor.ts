import { agentTargetOf, callAgent, type AgentTarget } from '../agent/agentClient.ts';
import { peerOf, type AgentAction, type RequestOf } from '../agent/actions/wire.ts';
import type { ActionName, Intent } from '../domain/events.ts';
import type { ClusterSpec, NodeSpec } from '../domain/spec.ts';
import { isRestart } from '../domain/restartPrimary.ts';
import { specSyncNames } from '../domain/syncNames.ts';
import type { ClusterState, FailoverInProgress } from '../domain/state.ts';
import { createPgBouncerDriver, type PgBouncerDriver, type PgBouncerRun } from '../endpoints/pgbouncer.ts';
import type { ControlPlane } from './controlPlane.ts';
import type { CommandWithoutObservations } from '../domain/commands.ts';
import type { CommitResult } from '../store/commitDecision.ts';
import { ACTION_TIMEOUT_MS, CHECKPOINT_TIMEOUT_MS } from './actTiming.ts';

export type Outcome = { ok: boolean; reason: string; detail: Record<string, unknown> };
type Feed = (command: CommandWithoutObservations) => Promise<CommitResult>;


const inFlight = new WeakMap<ControlPlane, Set<string>>();

/** One PgBouncer driver per control plane and cluster, rebuilt when the spec's pgbouncer part changes (it keeps each pause's start). */
const bouncers = new WeakMap<ControlPlane, Map<string, { key: string; driver: PgBouncerDriver }>>();

function pgbouncerOf(cp: ControlPlane, spec: ClusterSpec): PgBouncerDriver | null {
  const byCluster = bouncers.get(cp) ?? new Map<string, { key: string; driver: PgBouncerDriver }>();
  bouncers.set(cp, byCluster);
  const known = byCluster.get(spec.cluster);
  if (!spec.pgbouncer) {
    known?.driver.close();
    byCluster.delete(spec.cluster);
    return null;
  }
  const key = JSON.stringify(spec.pgbouncer);
  if (known?.key === key) return known.driver;
  known?.driver.close();
  const driver = createPgBouncerDriver(spec.pgbouncer, (e) => cp.log({ ...e, cluster: spec.cluster }));
  byCluster.set(spec.cluster, { key, driver });
  return driver;
}

/** The PgBouncer part of an action's outcome: a clause for the reason, its steps for the detail. */
function withPgBouncer(result: Outcome, run: PgBouncerRun | null, key = 'pgbouncer'): Outcome {
  if (!run) return result;
  return { ...result, reason: `${result.reason}; ${run.summary}`, detail: { ...result.detail, [key]: run.steps } };
}

/**
 * Carries out the intents the log holds as pending and feeds each outcome back as a
 * command. Intents are idempotent and term-tagged at the agent, so running one twice
 * (after a crash, or from two decide invocations) does it once. A control plane that hands
 * intents on (decide on Lambda, to the act function) only hands them on: it never waits on
 * an agent, so a stream invocation ends in the time of a decide.
 */
export async function react(cp: ControlPlane, cluster: string, state: ClusterState, feed: Feed): Promise<void> {
  const spec = state.spec;
  if (spec === null) return;
  if (cp.handOff) {
    if (state.pending.length > 0) await cp.handOff(cluster, state.pending);
    return;
  }
  const running = inFlight.get(cp) ?? new Set<string>();
  inFlight.set(cp, running);
  const work = state.pending
    .filter((p) => !running.has(p.intent.id))
    .map(async ({ intent }) => {
      running.add(intent.id);
      try {
        const outcome = await carryOut(cp, state, intent);
        cp.faults?.(`acted:${intent.action}`);
        const fed = await feed({ type: 'actionResult', now: cp.clock(), intentId: intent.id, ok: outcome.ok, reason: outcome.reason, detail: outcome.detail });
        if (!fed.ok) cp.log({ level: 'warn', msg: 'action result not recorded', cluster, intent: intent.id, reason: fed.reason });
      } finally {
        running.delete(intent.id);
      }
    });
  if (work.length === 0) return;
  const all = Promise.allSettled(work).then((results) => {
    for (const r of results) if (r.status === 'rejected') cp.log({ level: 'error', msg: 'action run died', cluster, error: String(r.reason) });
  });
  if (cp.awaitActions) await all;
}

/** One intent, carried out against the agents and endpoints of the state's spec; its outcome is the actionResult to feed back. */
export async function carryOut(cp: ControlPlane, state: ClusterState, intent: Intent): Promise<Outcome> {
  const spec = state.spec;
  if (spec === null) return { ok: false, reason: 'the cluster has no spec', detail: {} };
  return execute(cp, spec, state.failover, intent);
}

async function execute(cp: ControlPlane, spec: ClusterSpec, failover: FailoverInProgress | null, intent: Intent): Promise<Outcome> {
  const { cluster, nodes } = spec;
  // Driven beside the endpoints; its failures are recorded, never the action's (a failover is not held up by PgBouncer).
  const bouncer = pgbouncerOf(cp, spec);
  const node = nodes.find((n) => n.name === intent.node);
  if (!node) return { ok: false, reason: `${intent.node} is no longer in the cluster`, detail: {} };
  // Signed for this cluster and node: no other agent would act on it.
  const target = agentTargetOf(cluster, node, cp.agentCa);
  const peer = (name: string | null) => {
    const p = nodes.find((n) => n.name === name);
    return p ? peerOf(p) : null;
  };
  const started = cp.clock();
  let result: Outcome;
  switch (intent.action) {
    case 'endpoints': {
      const readers = (intent.readers ?? []).map((r) => nodes.find((n) => n.name === r)).filter((n): n is NodeSpec => !!n);
      const change = { term: intent.term, writer: peerOf(node), readers: readers.map(peerOf) };
      const [applied, bounced] = await Promise.all([cp.endpoints ? cp.endpoints.apply(change) : null, bouncer ? bouncer.apply(change) : null]);
      if (cp.endpoints === null || applied === null) {
        result = withPgBouncer({ ok: true, reason: 'this control plane has no endpoint driver', detail: {} }, bounced);
        break;
      }
      const resumed = applied.ok ? (applied.detail?.['resumed'] as { pausedMs: number; moved: number; closed: number; held: number } | undefined) : undefined;
      result = applied.ok
        ? {
            ok: true,
            reason:
              `${cp.endpoints.kind}: writer ${node.name}, readers ${readers.map((r) => r.name).join(', ') || 'none'}` +
              (resumed ? `; writer endpoint resumed after a ${resumed.pausedMs} ms pause: ${resumed.moved} sessions moved, ${resumed.closed} closed between transactions, ${resumed.held} new connections held` : ''),
            detail: { applied: applied.applied, ...(applied.detail ?? {}) },
          }
        : { ok: false, reason: applied.reason, detail: {} };
      result = withPgBouncer(result, bounced);
      break;
    }
    case 'fence': {
      // A failover's first step: PgBouncer holds new queries instead of sending them to the dead primary.
      const starts = failover !== null && failover.kind !== 'switchover' && failover.term === intent.term && failover.from === intent.node;
      const [fenced, held] = await Promise.all([agent(cp, target, 'fence', { term: intent.term }), starts && bouncer ? bouncer.hold(intent.term) : null]);
      result = withPgBouncer(fenced, held);
      break;
    }
    case 'demote': {
      // While clients are still served: a checkpoint and an archived segment switch, so the
      // stop inside the pause below has little to flush and nothing to archive.
      const prepared = await agentCall(cp, target, 'checkpoint', { term: intent.term }, CHECKPOINT_TIMEOUT_MS);
      // A switchover: the writer endpoint drains first, so no transaction is cut by the stop.
      const [drain, paused] = await Promise.all([cp.endpoints?.drain ? cp.endpoints.drain(intent.term) : null, bouncer ? bouncer.drain(intent.term) : null]);
      result = await agent(cp, target, 'demote', { term: intent.term });
      result.reason += `; before the pause: ${prepared.reason}`;
      if (drain) {
        result.detail = { ...result.detail, drain };
        result.reason += `; writer endpoint paused: ${drain.drained} sessions drained between transactions, ${drain.cut} cut, in ${drain.waitedMs} ms`;
        // The switchover gives up: the old primary keeps its role, and its clients come back to it.
        if (!result.ok) cp.endpoints?.resume?.();
      }
      if (paused) {
        result = withPgBouncer(result, paused);
        if (!result.ok) result = withPgBouncer(result, await bouncer!.resume(), 'pgbouncerResumed');
      }
      break;
    }
    case 'promote':
      result = await agent(cp, target, 'promote', {
        term: intent.term,
        ...(intent.minLsn ? { minLsn: intent.minLsn } : {}),
        ...(isRestart(intent) ? { restartOnly: true } : {}),
        // Put in force before the node takes a write, and answered back (rule 2).
        ...(spec.replication.mode === 'synchronous' ? { synchronousStandbyNames: specSyncNames(spec) } : {}),
      });
      break;
    case 'follow': {
      const primary = peer(intent.primary);
      result = primary
        ? await agent(cp, target, 'follow', {
            term: intent.term,
            primary,
            streamWaitMs: 3_000,
            allowStandbyUpstream: true,
            // Detaching a standby from the old primary before the candidate's promotion: the
            // new setting in force is what counts, not the streaming that follows.
            awaitStreaming: !intent.detach,
          })
        : { ok: false, reason: `unknown primary ${intent.primary}`, detail: {} };
      break;
    }
    case 'rewind': {
      const source = peer(intent.primary);
      result = source
        ? await agent(cp, target, 'rewind', { term: intent.term, source, streamWaitMs: 5_000 })
        : { ok: false, reason: `unknown primary ${intent.primary}`, detail: {} };
      break;
    }
    case 'start':
      result = await agent(cp, target, 'start', { term: intent.term });
      break;
    default: {
      const unhandled: never = intent.action;
      return unhandled;
    }
  }
  cp.log({ level: result.ok ? 'info' : 'warn', msg: 'action', intent: intent.id, ok: result.ok, reason: result.reason, ms: cp.clock() - started });
  return result;
}

/** The intents an agent carries out: every action of the domain but endpoints. Each run signs anew. */
async function agent<A extends ActionName & AgentAction>(cp: ControlPlane, target: AgentTarget, action: A, body: RequestOf<A>): Promise<Outcome> {
  return agentCall(cp, target, action, body, ACTION_TIMEOUT_MS[action]);
}

/** Any agent action, also one that is a step of an intent rather than an intent of its own. */
async function agentCall<A extends AgentAction>(cp: ControlPlane, target: AgentTarget, action: A, body: RequestOf<A>, timeoutMs: number): Promise<Outcome> {
  // Signed, and the agent's clock measured, by the control plane's clock.
  const answer = await callAgent(target, cp.agentKey, action, body, { timeoutMs, clock: cp.clock });
  const { ok, reason, httpStatus: _status, ...detail } = answer;
  return { ok, reason, detail };
}
