import type { Outcome } from './outcome.ts';
import type { ClusterSpec } from './spec.ts';
import { isPrimaryNow, serverDownAgentUp, type NodeView } from './view.ts';

/**
 * Issue 13 item 2: the primary of the current term stopped itself (its lease lapsed before a
 * standby streamed from it: a stall right after its promotion, a store outage with no standby
 * streaming) and no failover can take its place. Nothing else would ever start it, and it may
 * hold the only copy of commits it acknowledged. Its PostgreSQL refuses connections (the host
 * answers, nothing listens) while its agent renews its lease again: ask the agent to promote it
 * in its own term, which restarts a primary of that term that fenced itself (and only that:
 * never over the control plane's fence). Only with no failover under way (or the one that made
 * it primary, switching its endpoints) and no other node answering as primary.
 */
export function restartSelfStoppedPrimary(o: Outcome, spec: ClusterSpec, view: Map<string, NodeView>): void {
  const s = o.state;
  const primary = s.primary;
  if (primary === null || s.paused || s.blind) return;
  const f = s.failover;
  if (f !== null && !(f.step === 'switching' && f.to === primary)) return;
  const v = view.get(primary);
  if (!serverDownAgentUp(v, spec.timing.failureThreshold, spec.timing.leaseTtlMs, o.now)) return;
  const obs = v!.obs!;
  if ([...view.values()].some((x) => x.spec.name !== primary && isPrimaryNow(x))) return;
  if (s.pending.some((p) => p.intent.node === primary)) return;
  o.request(
    'promote',
    primary,
    s.term,
    `${primary}, primary of term ${s.term}, refuses connections (${obs.consecutiveFailures} probes in a row) while its agent renews its lease, and no failover replaces it: ask its agent to start it again as primary of its term (it may have stopped itself when its lease lapsed)`,
    { key: 'restart' },
  );
}
