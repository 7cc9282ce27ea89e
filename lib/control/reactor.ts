import { agentTargetOf, callAgent, type AgentTarget } from '../agent/agentClient.ts';
import { peerOf, type AgentAction, type RequestOf } from '../agent/actions/wire.ts';
import type { ActionName, Intent } from '../domain/events.ts';
import type { NodeSpec } from '../domain/spec.ts';
import type { ClusterState } from '../domain/state.ts';
import type { ControlPlane } from './controlPlane.ts';
import type { CommandWithoutObservations } from '../domain/commands.ts';
import type { CommitResult } from '../store/commitDecision.ts';

type Outcome = { ok: boolean; reason: string; detail: Record<string, unknown> };
type Feed = (command: CommandWithoutObservations) => Promise<CommitResult>;

/** How long each agent action may take before the reactor calls it failed (it is retried later). */
const ACTION_TIMEOUT_MS: Record<ActionName, number> = {
  fence: 3_000,
  demote: 30_000,
  promote: 15_000,
  follow: 10_000,
  rewind: 120_000,
  endpoints: 10_000,
};

const inFlight = new WeakMap<ControlPlane, Set<string>>();

/**
 * Carries out the intents the log holds as pending and feeds each outcome back as a
 * command. Intents are idempotent and term-tagged at the agent, so running one twice
 * (after a crash, or from two decide invocations) does it once.
 */
export async function react(cp: ControlPlane, cluster: string, state: ClusterState, feed: Feed): Promise<void> {
  const spec = state.spec;
  if (spec === null) return;
  const running = inFlight.get(cp) ?? new Set<string>();
  inFlight.set(cp, running);
  const work = state.pending
    .filter((p) => !running.has(p.intent.id))
    .map(async ({ intent }) => {
      running.add(intent.id);
      try {
        const outcome = await execute(cp, spec.cluster, spec.nodes, intent);
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

async function execute(cp: ControlPlane, cluster: string, nodes: NodeSpec[], intent: Intent): Promise<Outcome> {
  const node = nodes.find((n) => n.name === intent.node);
  if (!node) return { ok: false, reason: `${intent.node} is no longer in the cluster`, detail: {} };
  // Signed for this cluster and node: no other agent would act on it.
  const target = agentTargetOf(cluster, node);
  const peer = (name: string | null) => {
    const p = nodes.find((n) => n.name === name);
    return p ? peerOf(p) : null;
  };
  const started = cp.clock();
  let result: Outcome;
  switch (intent.action) {
    case 'endpoints': {
      if (cp.endpoints === null) {
        result = { ok: true, reason: 'this control plane has no endpoint driver', detail: {} };
        break;
      }
      const readers = (intent.readers ?? []).map((r) => nodes.find((n) => n.name === r)).filter((n): n is NodeSpec => !!n);
      const applied = await cp.endpoints.apply({ term: intent.term, writer: peerOf(node), readers: readers.map(peerOf) });
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
      break;
    }
    case 'fence':
      result = await agent(cp, target, 'fence', { term: intent.term });
      break;
    case 'demote': {
      // A switchover: the writer endpoint drains first, so no transaction is cut by the stop.
      const drain = cp.endpoints?.drain ? await cp.endpoints.drain(intent.term) : null;
      result = await agent(cp, target, 'demote', { term: intent.term });
      if (drain) {
        result.detail = { ...result.detail, drain };
        result.reason += `; writer endpoint paused: ${drain.drained} sessions drained between transactions, ${drain.cut} cut, in ${drain.waitedMs} ms`;
        // The switchover gives up: the old primary keeps its role, and its clients come back to it.
        if (!result.ok) cp.endpoints?.resume?.();
      }
      break;
    }
    case 'promote':
      result = await agent(cp, target, 'promote', { term: intent.term, ...(intent.minLsn ? { minLsn: intent.minLsn } : {}) });
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
  const answer = await callAgent(target, cp.agentKey, action, body, { timeoutMs: ACTION_TIMEOUT_MS[action] });
  const { ok, reason, httpStatus: _status, ...detail } = answer;
  return { ok, reason, detail };
}
