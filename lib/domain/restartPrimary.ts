import type { Intent } from './events.ts';
import type { Outcome } from './outcome.ts';
import type { ClusterSpec } from './spec.ts';
import type { ClusterState } from './state.ts';
import { isPrimaryNow, serverDownAgentUp, type NodeView } from './view.ts';

/**
 * Issue 13 item 2: the primary of the log is stopped and no failover can take its place, so
 * nothing else would ever start it, and it holds the newest data (it may hold the only copy of
 * commits it acknowledged). Two ways it got there:
 * - (b) it stopped itself: its lease lapsed before a standby streamed from it (a stall right
 *   after its promotion, a store outage with no standby streaming);
 * - (a) the control plane stopped it: the fence of a failover that was then aborted, landing
 *   late (a frozen host runs the buffered request on wake), or the demote of a switchover past
 *   its deadline (item 4).
 * Its PostgreSQL refuses connections (the host answers, nothing listens) while its agent renews
 * its lease again: ask the agent to start it as primary (`promote`, key `restart`). Only with no
 * failover under way (or the one that made it primary, switching its endpoints), no other node
 * answering as primary, and no aborted failover's candidate that may have taken writes as primary
 * (`lostCandidate`: then its data may not be the newest; `pgvigil failover --to` may still name it).
 */
export function restartStoppedPrimary(o: Outcome, spec: ClusterSpec, view: Map<string, NodeView>): void {
  const s = o.state;
  const primary = s.primary;
  if (primary === null || s.paused || s.blind || s.lostCandidate !== null) return;
  const f = s.failover;
  if (f !== null && !(f.step === 'switching' && f.to === primary)) return;
  const v = view.get(primary);
  if (!serverDownAgentUp(v, spec.timing.failureThreshold, spec.timing.leaseTtlMs, o.now)) return;
  if (otherPrimary(view, primary) !== null) return;
  if (s.pending.some((p) => p.intent.node === primary)) return;
  const refused = `${primary}, primary of the log, refuses connections (${v!.obs!.consecutiveFailures} probes in a row) while its agent renews its lease, and no failover replaces it`;
  requestRestart(o, primary, refused);
}

/**
 * Ask `node`'s agent to start it again as primary. The control plane may have asked it to stop
 * (fence, demote) in the current term, and its agent would then hold a fence of that term, which
 * a promote of the same term never lifts: the restart takes a new term, which also makes every
 * request of the stopping term stale there. Otherwise its own term (a primary that stopped itself
 * is started again only by a promote of its term). Asked again no sooner than actionTimeoutMs,
 * in the same term: the term rises once per restart, not once per attempt.
 */
export function requestRestart(o: Outcome, node: string, why: string): boolean {
  const s = o.state;
  const term = restartTerm(s, node);
  const stopped = s.stopAskedIn[node];
  const how =
    term > s.term
      ? `ask its agent to start it again as primary of a new term ${term} (the control plane asked it to stop in term ${stopped}; its agent lifts a fence of an earlier term over a data directory a primary left)`
      : `ask its agent to start it again as primary of its term ${term} (it may have stopped itself when its lease lapsed)`;
  return o.request('promote', node, term, `${why}: ${how}`, { key: 'restart' });
}

/** A promote asking to start the log's primary again (never to promote a standby: the agent is told so). */
export const isRestart = (intent: Intent): boolean => intent.action === 'promote' && intent.id.endsWith(':restart');

/** The term a restart of `node` as primary is asked in: past any term in which the control plane asked it to stop. */
export function restartTerm(s: ClusterState, node: string): number {
  const stopped = s.stopAskedIn[node];
  return stopped !== undefined && stopped >= s.term ? s.term + 1 : s.term;
}

/**
 * A restart of the log's primary is in flight, or was answered after its latest observation
 * (which may still show it down): no failover away from it until the probes have seen what
 * the restart did.
 */
export function restartUnderWay(s: ClusterState, node: string, observedAt: number): boolean {
  const isRestart = (id: string): boolean => id.endsWith(`:promote:${node}:restart`);
  return s.pending.some((p) => isRestart(p.intent.id)) || Object.entries(s.lastOutcomeAt).some(([id, at]) => isRestart(id) && at >= observedAt);
}

/** A node other than `primary` that answers as primary, if any. */
export function otherPrimary(view: Map<string, NodeView>, primary: string): string | null {
  for (const x of view.values()) if (x.spec.name !== primary && isPrimaryNow(x)) return x.spec.name;
  return null;
}
