import { chooseFailoverCandidate } from './candidates.ts';
import { proveFenced, proveFencedByLease } from './fencing.ts';
import type { ClusterState } from './state.ts';
import { isFailed, isPrimaryNow, isStandbyNow, type NodeView } from './view.ts';

/** What `pgvigil status` says of a failover in progress (issue 13, Explain): read-only, from the log and the latest observations. */
export interface FailoverExplanation {
  kind: string;
  from: string;
  to: string;
  term: number;
  step: string;
  /** When it entered this step (null: a log older than the field). */
  since: number | null;
  waitsFor: string;
  endsWhen: string;
  /** A switchover's deadline (`--timeout`), while it can still end it. */
  deadlineAt?: number;
}

const ABORT = 'or `pgvigil abort --reason TEXT`';

export function explainFailover(state: ClusterState, view: Map<string, NodeView>, now: number): FailoverExplanation | null {
  const f = state.failover;
  const explained = explainStep(state, view, now);
  if (f === null || explained === null || f.kind !== 'switchover' || f.deadlineAt === undefined || f.step === 'switching') return explained;
  // Issue 13 item 4: what ends a switchover whose promotion keeps failing, and when.
  const left = Math.max(0, Math.round((f.deadlineAt - now) / 1000));
  return { ...explained, deadlineAt: f.deadlineAt, endsWhen: `${explained.endsWhen}; at its deadline (${left} s from now) the switchover fails and ${f.from} is started again as primary of a new term` };
}

function explainStep(state: ClusterState, view: Map<string, NodeView>, now: number): FailoverExplanation | null {
  const f = state.failover;
  const spec = state.spec;
  if (f === null || spec === null) return null;
  const pending = (action: string, node: string) => state.pending.find((p) => p.intent.term === f.term && p.intent.action === action && p.intent.node === node);
  const asked = (action: string, node: string) => {
    const p = pending(action, node);
    return p ? `, asked ${Math.round((now - p.requestedAt) / 1000)} s ago` : '';
  };
  const head = { kind: f.kind, from: f.from, to: f.to, term: f.term, step: f.step, since: f.stepAt };
  if (state.paused) return { ...head, waitsFor: 'the end of maintenance mode (paused): nothing is promoted', endsWhen: `pgvigil resume, ${ABORT}` };
  if (state.blind) return { ...head, waitsFor: 'the control plane to see a node again (blind)', endsWhen: `a probe round that reaches a node, ${ABORT}` };
  switch (f.step) {
    case 'fencing': {
      if (f.kind === 'switchover') {
        return { ...head, waitsFor: `${f.from}'s agent to stop it cleanly (demote${asked('demote', f.from)})`, endsWhen: `the clean stop, then ${f.to}'s promotion; a failed demote aborts it; ${ABORT}` };
      }
      const proof = proveFenced(spec, view, state.syncSet, f.from, now, state.primarySyncNames);
      return {
        ...head,
        waitsFor: `a proof that ${f.from} can't commit: its agent's answer to the fence${asked('fence', f.from)}, or ${proof.ok ? 'the proof that holds now (next round)' : `a condition of rule 3 (${proof.reason})`}`,
        endsWhen: `Fenced, then ${f.to}'s promotion;${f.kind === 'failover' ? ` ${f.from} answering as primary again calls it off;` : ''} ${ABORT}`,
      };
    }
    case 'promoting': {
      const cv = view.get(f.to);
      let waits: string;
      if (pending('promote', f.to)) waits = `${f.to}'s answer to its promote${asked('promote', f.to)}${f.minLsn ? ` (once it has replayed ${f.minLsn})` : ''}`;
      else if (f.promoteRequested && isFailed(cv, spec.timing.failureThreshold)) {
        const lease = proveFencedByLease(spec, view, f.to, now);
        waits = `${f.to}, asked to promote, is lost: it may be primary, so another is chosen only once it provably is not (${lease.ok ? 'its lease proves it now: next round' : lease.reason}); its agent renewing gets the promote asked again`;
      } else if (f.fencedBy === 'syncQuorum') {
        const waiting = spec.nodes.filter((n) => n.name !== f.from && n.name !== f.to && !n.tags.nosync && !f.detached.includes(n.name)).map((n) => n.name);
        waits = waiting.length > 0 ? `the detach of ${waiting.join(', ')} from ${f.from} (follow ${f.to}), or ${f.from}'s lease proving its stop if they are lost` : `${f.to} to be seen as a standby that still qualifies`;
      } else if (isPrimaryNow(cv)) waits = `the next probe round to record ${f.to}'s promotion`;
      else if (!isStandbyNow(cv)) waits = `${f.to} to answer as a standby or primary`;
      else waits = `${f.to} to be checked again and promoted`;
      return { ...head, waitsFor: waits, endsWhen: `${f.to}'s promotion (Promoted), or a proof it is not primary (its lease, its agent's fence answer) and a new choice; ${ABORT}` };
    }
    case 'switching':
      return {
        ...head,
        waitsFor: `the endpoints of term ${f.term} to point at ${f.to}${asked('endpoints', f.to)}`,
        endsWhen: `the endpoints answering (FailoverCompleted); ${f.to} failing starts the failover away from it; ${ABORT}`,
      };
    default: {
      const unhandled: never = f.step;
      return unhandled;
    }
  }
}

/** Per standby: null when it could be promoted were the primary to fail now, else why not (the FailoverImpossible reasons). */
export function explainCandidates(state: ClusterState, view: Map<string, NodeView>): { node: string; why: string | null }[] {
  const spec = state.spec;
  const primary = state.primary;
  if (spec === null || primary === null) return [];
  return spec.nodes
    .filter((n) => n.name !== primary)
    .map((n) => {
      const choice = chooseFailoverCandidate(spec, view, primary, n.name, state.primarySyncNames, state.inherited);
      return { node: n.name, why: choice.ok ? null : choice.reason };
    });
}
