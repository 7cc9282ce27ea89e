import { intentId } from './events.ts';
import type { Outcome } from './outcome.ts';
import type { FailoverInProgress } from './state.ts';
import { isPrimaryNow, isStandbyNow, type NodeView } from './view.ts';

/** What a switchover past its deadline does this round (failoverSteps.ts acts on it). */
export type LateSwitchover =
  /** Nothing yet: a fresh sight of the candidate is awaited; no promotion is asked any more. */
  | { wait: string }
  /** Record the switchover as failed; the old primary is then started again. */
  | { abort: string; neverPromoted: boolean }
  /** The candidate may have been promoted and is out of sight: stop it through its agent first. */
  | { fence: string };

/**
 * Issue 13 item 4: a switchover whose promotion keeps failing (the candidate's agent gone, its
 * replay short of the shutdown checkpoint) would wait without end, the old primary stopped by its
 * demote. Past the deadline (`--timeout`, from its start) it ends, unless the promotion is a fact
 * (the candidate answers as primary: recorded as usual) or a promote is in flight (its answer is
 * awaited, bounded by the reactor). The old primary's data is the newest only while the candidate
 * never took a write as primary: provably so when it was never asked to promote, or is seen in
 * recovery after every promote was answered. A candidate out of sight is stopped through its
 * agent instead (the abort then follows its answer, and since it may have been promoted, the
 * old primary is not started again by itself). Null: no deadline applies.
 */
export function switchoverPastDeadline(o: Outcome, view: Map<string, NodeView>, f: FailoverInProgress): LateSwitchover | null {
  if (f.kind !== 'switchover' || f.deadlineAt === undefined || f.step === 'switching' || o.now < f.deadlineAt) return null;
  const cv = view.get(f.to);
  if (isPrimaryNow(cv) || o.pendingFor('promote', f.to)) return null;
  const over = `switchover ${f.from} → ${f.to} of term ${f.term} failed: ${deadlineText(f)} passed`;
  if (f.step === 'fencing') return { abort: `${over} before ${f.from} was demoted (its demote was not answered); ${f.to} was never asked to promote`, neverPromoted: true };
  if (!f.promoteRequested) return { abort: `${over} before ${f.to} was asked to promote`, neverPromoted: true };
  const answeredAt = o.state.lastOutcomeAt[intentId(f.term, 'promote', f.to)];
  if (isStandbyNow(cv) && answeredAt !== undefined && cv!.obs!.at > answeredAt) {
    return { abort: `${over} with ${f.to} not promoted: every promote was answered and it is still a standby (in recovery), so it took no write as primary`, neverPromoted: true };
  }
  if (isStandbyNow(cv)) return { wait: `${over}: waiting for a probe of ${f.to} after its last promote was answered` };
  return {
    fence: `${over} and ${f.to}, asked to promote, is out of sight (it may have been promoted): stop it through its agent before the switchover ends; ${f.from} is then not started again by itself, as ${f.to} may hold writes (pgvigil failover --to ${f.from} can name it)`,
  };
}

function deadlineText(f: FailoverInProgress): string {
  return `its deadline of ${Math.round(((f.deadlineAt ?? f.startedAt) - f.startedAt) / 100) / 10} s`;
}
