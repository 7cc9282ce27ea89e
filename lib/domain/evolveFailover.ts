import { reportedWalLsn, shutdownCheckpoint } from './actionDetail.ts';
import type { DecisionEvent, Intent } from './events.ts';
import type { FailoverInProgress } from './state.ts';

const add = (list: readonly string[], name: string): string[] => (list.includes(name) ? [...list] : [...list, name]);

/**
 * A follow answered while the candidate waits for its promotion, pointing at it: a synchronous
 * standby detached from the old primary. Judged from the state, not from Intent.detach, so a
 * log written before that field existed folds the same.
 */
export function isDetach(f: FailoverInProgress | null, intent: Intent): boolean {
  return f !== null && intent.action === 'follow' && f.term === intent.term && f.step === 'promoting' && intent.primary === f.to;
}

/**
 * The failover part of the fold: one case per row of the transition table at the head of
 * failoverSteps.ts. Every other event leaves a failover in progress as it is.
 */
export function evolveFailover(f: FailoverInProgress | null, event: DecisionEvent): FailoverInProgress | null {
  switch (event.type) {
    case 'FailoverStarted': // (none) → fencing
      return {
        kind: event.kind,
        term: event.term,
        from: event.from,
        to: event.to,
        startedAt: event.at,
        step: 'fencing',
        fencedBy: null,
        minLsn: null,
        detached: [],
        promoteRequested: false,
        fencedAt: null,
        finalLsn: null,
        stepAt: event.at,
        ...(event.timeoutMs === undefined ? {} : { deadlineAt: event.at + event.timeoutMs }),
      };
    case 'ActionSucceeded': {
      if (f === null || f.term !== event.intent.term) return f;
      // fencing, switchover: the old primary stopped cleanly; the candidate must replay its shutdown checkpoint.
      if (event.intent.action === 'demote') return { ...f, minLsn: shutdownCheckpoint(event.detail).lsn };
      // fencing: the old primary's agent stopped it, and says where its WAL ended.
      if (event.intent.action === 'fence' && f.step === 'fencing' && event.intent.node === f.from) return { ...f, finalLsn: reportedWalLsn(event.detail) };
      // promoting: a synchronous standby detached from the old primary can no longer give it a quorum.
      if (isDetach(f, event.intent)) return { ...f, detached: add(f.detached, event.intent.node) };
      return f;
    }
    case 'Fenced':
      if (f === null || f.from !== event.node) return f;
      // fencing → promoting: the old primary can no longer commit
      if (f.step === 'fencing') return { ...f, step: 'promoting', fencedBy: event.by, fencedAt: event.at, stepAt: event.at };
      // promoting: its lease now proves what the quorum proof held for an instant, so no detach is awaited
      if (f.step === 'promoting' && f.fencedBy === 'syncQuorum' && event.by === 'lease') return { ...f, fencedBy: 'lease' };
      return f;
    case 'ActionRequested': // promoting: from the promote request on, its outcome is unknown until the candidate answers
      return f && event.intent.action === 'promote' && event.intent.term === f.term ? { ...f, promoteRequested: true } : f;
    case 'Promoted': // promoting → switching
      return f && f.to === event.node ? { ...f, step: 'switching', stepAt: event.at } : f;
    case 'FailoverCompleted': // switching → (none)
    case 'FailoverAborted': // any step → (none)
      return null;
    default:
      return f;
  }
}
