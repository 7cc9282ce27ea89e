import { chooseFailoverCandidate } from './candidates.ts';
import { proveFenced, proveFencedByLease } from './fencing.ts';
import type { Outcome } from './outcome.ts';
import { compareLsn, maxLsn } from './lsn.ts';
import { failureWindowMs, type ClusterSpec } from './spec.ts';
import { requestRestart, restartUnderWay } from './restartPrimary.ts';
import type { FailoverInProgress } from './state.ts';
import { switchoverPastDeadline, type LateSwitchover } from './switchoverDeadline.ts';
import { agentRenews, evidence, observedNow, evidenceOf, isFailed, isPrimaryNow, isReachable, isStandbyNow, receivedLsn, standbysStreamingFrom, type NodeView } from './view.ts';

/*
 * The failover state machine: the steps of a change of primary, shared by automatic failover,
 * operator failover (kind manual) and switchover: fence (rule 3), promote (rule 4), re-point the
 * rest and switch the endpoints. The step changes only in evolveFailover, whose switch is this
 * table: one row per transition, the event that makes it, and who emits that event.
 *
 * (none)    -> fencing     FailoverStarted      maybeStartFailover: the primary failed for the window and no standby streams from it (rules 1, 2)
 *                                                decideSwitchover, decideManualFailover: an operator asked (rule 6)
 * fencing   -> fencing     ActionSucceeded      demote of the term (switchover): records the shutdown checkpoint the candidate must replay
 * fencing   -> promoting   Fenced               tryFence: the synchronous quorum or the lease proves the old primary can't commit (rule 3)
 *                                                decideActionResult: its agent confirms PostgreSQL is stopped (fence), or it stopped cleanly (demote)
 * promoting -> promoting   ActionSucceeded      follow with detach (asked by requestPromotion after a quorum fence): a synchronous standby left the old primary
 * promoting -> promoting   Fenced               requestPromotion: a synchronous standby lost since the quorum proof can't be detached; the
 *                                                old primary's lease proves the stop instead (fencedBy becomes lease, no detach is awaited)
 * promoting -> promoting   ActionRequested      promote (requestPromotion, progressFailover): from now on the failover can't be called off unless the candidate is stopped
 * promoting -> switching   Promoted             afterPromotion: the candidate answered its promote (decideActionResult) or reports itself primary (progressFailover)
 * switching -> (none)      FailoverCompleted    complete, from decideActionResult: the endpoints of the term answered
 * switching -> fencing     FailoverAborted, FailoverStarted   maybeStartFailover: the new primary (its promotion a fact) failed
 *                                                before its endpoints answered; the next failover starts away from it
 * fencing, promoting -> (none)   switchoverPastDeadline   a switchover's deadline (--timeout) passed before the promotion was a
 *                                                fact, the candidate never asked or seen in recovery after every promote was answered
 *                                                (FailoverAborted, neverPromoted); the old primary is asked to start again as primary of a
 *                                                new term (promote, key restart). A candidate out of sight is fenced first (key deadline)
 *                                                and its fence answer aborts, as below (it may have been promoted: no restart by itself)
 *
 * Every abort: FailoverAborted, emitted through abort(); the next round may choose again.
 * fencing   -> (none)      progressFailover     an automatic failover's old primary answers again as primary before any promotion
 *                                                (not after an aborted failover's candidate may have been promoted: lostCandidate)
 * any       -> (none)      decideActionResult   a switchover's demote of its term failed: the old primary could not be stopped cleanly
 * promoting -> (none)      requestPromotion     the candidate no longer qualifies and no promotion was asked for
 * promoting -> (none)      decideActionResult   the candidate that no longer qualified is stopped through its agent (fence) after its
 *                                                promotion was asked for: evolve deposes it, as it may be primary of the aborted term
 * promoting -> (none)      progressFailover     an automatic failover fenced by the quorum, no promotion asked, whose old primary answers again as primary
 * promoting -> (none)      progressFailover     the candidate failed before any promotion was asked for
 * promoting -> (none)      candidateLost        the candidate failed after its promotion was asked for, its lease proves it is not
 *                                                serving, and another candidate qualifies now (Fenced by lease of the candidate, then the
 *                                                abort; evolve deposes it and records it as lostCandidate); else the failover waits for it
 * fencing, promoting -> (none)   decideAbort     the operator's `pgvigil abort`: a candidate asked to promote is fenced and deposed
 * switching -> (none)      decideAbort          the operator's `pgvigil abort`: the new primary stays; only the failover ends
 */

/** Rule 1 and 2: start a failover when the primary failed for the window and nothing streams from it. */
export function maybeStartFailover(o: Outcome, spec: ClusterSpec, view: Map<string, NodeView>): void {
  const s = o.state;
  const primary = s.primary;
  // Switching: the new primary's promotion is a fact (Promoted), so it may fail over like any
  // primary; waiting for its endpoints first would wait forever once it is gone (issue 13 item 1).
  const switching = s.failover !== null && s.failover.step === 'switching' && s.failover.to === primary;
  if (primary === null || (s.failover !== null && !switching)) return;
  const pv = view.get(primary);
  if (!isFailed(pv, spec.timing.failureThreshold)) return;
  // A restart of it as primary (restartPrimary.ts) is answered first, and then seen by a probe.
  if (restartUnderWay(s, primary, pv!.obs!.at)) return;
  // A standby still streaming from it proves it is alive: a control plane outage alone
  // never takes a healthy primary down, and a short stall never starts a failover.
  if (standbysStreamingFrom(view, primary).length > 0) return;
  // Rule 1's window runs from the moment the primary was cut off from everything: the control
  // plane's probes failing and every standby's WAL receiver gone. A host that stalls for less
  // than the standbys' wal_receiver_timeout plus this window is never failed over.
  const failure = pv!.obs!;
  const cutOffSince = Math.max(
    failure.failingSince ?? o.now,
    ...[...view.values()].filter((v) => v.spec.name !== primary && isStandbyNow(v)).map((v) => v.obs!.receiverSince ?? v.obs!.at),
  );
  if (observedNow(view, o.now) - cutOffSince < failureWindowMs(spec.timing)) return;

  const choice = chooseFailoverCandidate(spec, withoutLostCandidate(view, s.lostCandidate?.node ?? null, primary), primary, null, o.state.primarySyncNames, o.state.inherited);
  if (!choice.ok) {
    if (s.impossibleReportedFor !== s.term) {
      o.emit('FailoverImpossible', s.term, `${primary} has failed but no standby can be promoted safely: ${choice.reason}`, {
        from: primary,
        evidence: evidence(view),
      });
    }
    return;
  }
  if (switching) {
    const f = s.failover!;
    abort(o, f, `${primary}, promoted in term ${f.term}, failed before its endpoints were switched: its promotion stands, and a failover away from it starts now`);
  }
  const term = o.state.term + 1;
  o.emit(
    'FailoverStarted',
    term,
    `${primary} failed ${failure.consecutiveFailures} probes in a row (${failure.error?.kind ?? 'unreachable'}: ${failure.error?.message ?? ''}) and no standby streams from it; candidate ${choice.reason}`,
    { kind: 'failover', from: primary, to: choice.node, evidence: evidence(view) },
  );
  o.request('fence', primary, term, `stop ${primary} if its agent still answers, so it can never acknowledge another commit`);
  tryFence(o, spec, view);
}

/**
 * The automatic choice after an aborted failover passes over its candidate (seen as unseen): its
 * agent could not carry out the promotion, and choosing it again would wait again. Safe under
 * rule 2, which only gets more cautious with a node fewer in sight. The operator may still name it.
 */
function withoutLostCandidate(view: Map<string, NodeView>, lost: string | null, primary: string): Map<string, NodeView> {
  const v = lost === null || lost === primary ? undefined : view.get(lost);
  if (v === undefined) return view;
  return new Map(view).set(lost!, { ...v, obs: null });
}

/** Rule 3: record the first fencing condition that holds, then promote. */
export function tryFence(o: Outcome, spec: ClusterSpec, view: Map<string, NodeView>): void {
  const f = o.state.failover;
  if (!f || f.step !== 'fencing' || f.kind === 'switchover') return;
  const proof = proveFenced(spec, view, o.state.syncSet, f.from, o.now, o.state.primarySyncNames);
  if (!proof.ok) return;
  o.emit('Fenced', f.term, proof.reason, { node: f.from, by: proof.by, evidence: evidence(view) });
  requestPromotion(o, spec, view);
}

/**
 * After fencing: promote the candidate if it still qualifies, else abort so the next round
 * chooses again. Never while paused or blind (rules 6 and 1).
 */
export function requestPromotion(o: Outcome, spec: ClusterSpec, view: Map<string, NodeView> | null): void {
  const f = o.state.failover;
  if (!f || f.step !== 'promoting' || o.state.paused || o.state.blind) return;
  const afterStop = f.kind === 'manual' && f.fencedBy === 'agent' && f.fencedAt !== null;
  if (afterStop && !f.promoteRequested && (view === null || !seenSince(view, f.to, f.fencedAt!))) return;
  if (view !== null && f.kind !== 'switchover') {
    const still = afterStop ? qualifiesAfterStop(o, spec, view, f) : stillQualifies(spec, view, f.from, f.to);
    if (!still.ok) {
      if (f.promoteRequested) {
        // An earlier promotion may still land (its answer timed out): calling the failover off
        // now could leave two primaries. Stop the candidate through its agent first; its answer
        // calls the failover off (decideActionResult) and deposes the candidate (evolve).
        o.request('fence', f.to, f.term, `${f.to} no longer qualifies (${still.reason}) but its promotion was asked for: stop it before another candidate is chosen`);
        return;
      }
      abort(o, f, `${f.to} no longer qualifies: ${still.reason}`);
      return;
    }
  }
  if (f.fencedBy === 'syncQuorum') {
    // The quorum proof holds at one instant: a synchronous standby still configured to follow
    // the old primary could reconnect and give it a quorum again. Re-point them at the
    // candidate first (cascading until it is promoted, which also readies them to acknowledge
    // its first commits), then promote.
    let waiting = spec.nodes.filter((n) => n.name !== f.from && n.name !== f.to && !n.tags.nosync && !f.detached.includes(n.name));
    // Issue 13 item 3: a member lost since the quorum proof would be asked to detach forever.
    // Another proof makes its detach needless: the old primary's lease shows its agent stopped it.
    const lost = view === null ? [] : waiting.filter((n) => isFailed(view.get(n.name), spec.timing.failureThreshold));
    if (view !== null && lost.length > 0 && lost.length === waiting.length) {
      const lease = proveFencedByLease(spec, view, f.from, o.now);
      if (lease.ok) {
        const names = lost.map((n) => n.name).join(', ');
        o.emit('Fenced', f.term, `${names} can't be detached from ${f.from} (lost since the quorum proof); instead ${lease.reason}`, { node: f.from, by: 'lease', evidence: evidence(view) });
        waiting = [];
      }
    }
    if (waiting.length > 0) {
      for (const n of waiting) {
        o.request('follow', n.name, f.term, `detach ${n.name} from ${f.from} before the promotion: streaming from ${f.to}, it can no longer give ${f.from} a commit quorum`, {
          primary: f.to,
          detach: true,
        });
      }
      return;
    }
  }
  const lsnNote = f.minLsn ? ` once it has replayed ${f.from}'s shutdown checkpoint ${f.minLsn}` : '';
  o.request('promote', f.to, f.term, `promote ${f.to} to primary of term ${f.term}${lsnNote}`, { minLsn: f.minLsn });
}

/** Rule 4 after a promotion: re-point the other standbys, switch the endpoints. */
export function afterPromotion(o: Outcome, spec: ClusterSpec, node: string, reason: string, lsn: string | null): void {
  const f = o.state.failover;
  if (!f) return;
  o.emit('Promoted', f.term, reason, { node, from: f.from, lsn });
  requestSwitch(o, spec);
}

/** Re-point the other standbys at the new primary and move the endpoints (not while paused or blind). */
function requestSwitch(o: Outcome, spec: ClusterSpec): void {
  const f = o.state.failover;
  if (!f || o.state.paused || o.state.blind) return;
  const node = f.to;
  for (const n of spec.nodes) {
    if (n.name === node) continue;
    if (n.name === f.from) {
      if (f.kind === 'switchover') {
        o.request('follow', n.name, f.term, `${n.name} stopped cleanly at its shutdown checkpoint: it follows ${node} without a rewind`, { primary: node });
      } else if (f.fencedBy === 'agent') {
        o.request('rewind', n.name, f.term, `${n.name}'s agent answers: rewind it and let it follow ${node}`, { primary: node });
      }
      continue;
    }
    if (o.state.down.includes(n.name)) continue;
    o.request('follow', n.name, f.term, `re-point ${n.name} at the new primary ${node}`, { primary: node });
  }
  const readers = spec.nodes
    .map((n) => n.name)
    .filter((n) => n !== node && n !== f.from && !o.state.down.includes(n) && !o.state.lagging.includes(n));
  o.request('endpoints', node, f.term, `point the writer endpoint at ${node}; readers ${readers.join(', ') || 'none (the writer serves reads)'}`, { readers });
}

/** Call the failover off; the next round may choose again. `neverPromoted`: see FailoverAborted. */
export function abort(o: Outcome, f: FailoverInProgress, why: string, neverPromoted?: boolean): void {
  o.emit('FailoverAborted', f.term, why, { kind: f.kind, from: f.from, to: f.to, ...(neverPromoted ? { neverPromoted } : {}) });
}

/** Issue 13 item 4: a switchover past its deadline ends, and its old primary serves again (switchoverDeadline.ts). */
function endLateSwitchover(o: Outcome, f: FailoverInProgress, late: LateSwitchover): void {
  if ('wait' in late) return;
  if ('fence' in late) {
    o.request('fence', f.to, f.term, late.fence, { key: 'deadline' });
    return;
  }
  abort(o, f, `${late.abort}; ${f.from} is asked to start again as primary`, late.neverPromoted);
  // A running old primary (its demote never landed) answers "already primary", and the new term
  // makes a demote still buffered there stale.
  requestRestart(o, f.from, `${f.from}, demoted for the switchover of term ${f.term} that failed, holds the newest data`);
}

/** The change of primary is done: the endpoints of its term answered. */
export function complete(o: Outcome, f: FailoverInProgress, why: string): void {
  o.emit('FailoverCompleted', f.term, why, { kind: f.kind, from: f.from, to: f.to, startedAt: f.startedAt });
}

/** Carry a failover in progress one step further, from what this round observed. */
export function progressFailover(o: Outcome, spec: ClusterSpec, view: Map<string, NodeView>): void {
  const f = o.state.failover;
  if (!f) return;
  const late = switchoverPastDeadline(o, view, f);
  if (late !== null) {
    endLateSwitchover(o, f, late);
    return;
  }
  switch (f.step) {
    case 'fencing': {
      if (f.kind === 'failover' && isPrimaryNow(view.get(f.from)) && o.state.lostCandidate === null) {
        abort(o, f, `${f.from} answers again as primary before any promotion: nothing was changed`);
        return;
      }
      if (f.kind === 'switchover') return;
      // The reason the proofs fail goes into the log with each ask: an operator sees what fencing waits for.
      const proof = proveFenced(spec, view, o.state.syncSet, f.from, o.now, o.state.primarySyncNames);
      o.request('fence', f.from, f.term, proof.ok ? `ask ${f.from}'s agent again to stop PostgreSQL` : `ask ${f.from}'s agent again to stop PostgreSQL: no fencing condition holds yet (${proof.reason})`);
      tryFence(o, spec, view);
      return;
    }
    case 'promoting': {
      if (o.pendingFor('promote', f.to)) return;
      const cv = view.get(f.to);
      if (f.kind === 'failover' && f.fencedBy === 'syncQuorum' && !f.promoteRequested && isPrimaryNow(view.get(f.from)) && isStandbyNow(cv) && o.state.lostCandidate === null) {
        abort(o, f, `${f.from} answers again as primary before ${f.to} was promoted: the failover is called off`);
        return;
      }
      if (isPrimaryNow(cv)) {
        afterPromotion(o, spec, f.to, `${f.to} reports itself primary: its promotion took effect`, cv!.obs!.walLsn);
      } else if (isStandbyNow(cv)) {
        requestPromotion(o, spec, f.kind === 'switchover' ? null : view);
      } else if (f.promoteRequested && !isReachable(cv) && agentRenews(cv, o.now, spec.timing.leaseTtlMs)) {
        // The promotion may have landed and the new primary then stopped itself: a stall right
        // after promoting lets its lease lapse before any standby streams from it. Nothing else
        // will start it, and no other candidate may be chosen (it may hold commits it
        // acknowledged). Its agent renews its lease, so it answers: ask again. A promote of the
        // same term brings back a primary that stopped itself; otherwise it fails harmlessly,
        // and is asked again only after actionTimeoutMs.
        o.request('promote', f.to, f.term, `ask ${f.to} again to be primary of term ${f.term}: it does not answer, but its agent renews its lease (it may have stopped itself after its promotion)`, {
          minLsn: f.minLsn,
        });
      } else if (f.promoteRequested && isFailed(cv, spec.timing.failureThreshold)) {
        candidateLost(o, spec, view, f);
      } else if (isFailed(cv, spec.timing.failureThreshold) && !f.promoteRequested) {
        // Once a promotion was asked for, the candidate may have been promoted before it failed:
        // choosing another would risk two primaries, or lose the commits it acknowledged. Wait
        // for it to answer, as primary or standby.
        abort(o, f, `candidate ${f.to} failed before its promotion (${evidenceOf(cv!).error ?? 'unreachable'})`);
      }
      return;
    }
    case 'switching':
      requestSwitch(o, spec);
      return;
    default: {
      const unhandled: never = f.step;
      return unhandled;
    }
  }
}

/**
 * Issue 13 item 1: the candidate failed after its promotion was asked for, and its agent is
 * silent. It may be primary of the term, so another may be chosen only once it provably is not:
 * its lease proves its agent stopped it (rule 3's lease proof, as for any primary: an agent that
 * took the promotion self-fences when its lease lapses with a standby off it). An agent that
 * renews again is asked the promotion again first (progressFailover); `pgvigil abort` fences it.
 */
function candidateLost(o: Outcome, spec: ClusterSpec, view: Map<string, NodeView>, f: FailoverInProgress): void {
  const proof = proveFencedByLease(spec, view, f.to, o.now);
  // Only when another can be chosen now: else the old primary could serve again while the
  // candidate may hold writes it acknowledged as primary of this term. Wait for it instead.
  const next = chooseFailoverCandidate(spec, view, f.from, null, o.state.primarySyncNames, o.state.inherited);
  if (proof.ok && next.ok && next.node !== f.to) {
    o.emit('Fenced', f.term, `candidate ${f.to}, asked to promote, is lost: ${proof.reason}`, { node: f.to, by: 'lease', evidence: evidence(view) });
    abort(o, f, `candidate ${f.to} was lost after its promotion was asked for, and its lease proves it is not serving: it is deposed, and the next round chooses again`);
  }
  // Else wait: a fence asked of a silent agent would only time out; `pgvigil status` names the missing fact.
}

/** The candidate was probed after `since` (the old primary's stop), so its LSN includes all it will get. */
function seenSince(view: Map<string, NodeView>, node: string, since: number): boolean {
  const o = view.get(node)?.obs;
  return !!o && o.at > since;
}

/**
 * An operator's failover, the old primary stopped by its agent: the choice is made again on a
 * round after the stop, as for a failed primary, with the old primary's last LSN being where its
 * agent says its WAL ended (if later than the probes saw).
 */
function qualifiesAfterStop(o: Outcome, spec: ClusterSpec, view: Map<string, NodeView>, f: FailoverInProgress): { ok: true } | { ok: false; reason: string } {
  const old = view.get(f.from);
  let patched = view;
  if (old?.obs && f.finalLsn !== null) {
    const last = maxLsn([f.finalLsn, ...(old.obs.lastKnownWalLsn === null ? [] : [old.obs.lastKnownWalLsn])])!;
    patched = new Map(view);
    patched.set(f.from, { ...old, obs: { ...old.obs, lastKnownWalLsn: last, lastKnownWalAt: f.fencedAt } });
  }
  const again = chooseFailoverCandidate(spec, patched, f.from, f.to, o.state.primarySyncNames, o.state.inherited);
  return again.ok ? { ok: true } : { ok: false, reason: `checked again after ${f.from} stopped: ${again.reason}` };
}

/**
 * After fencing, the choice made at the start needs only re-checking, not re-making: the old
 * primary can no longer write, so no member of the quorum gains WAL. A member briefly out of
 * sight (re-pointed at the candidate, say) must not undo a fenced failover. What must still
 * hold: the candidate is a reachable standby and no node in sight received more than it.
 */
function stillQualifies(spec: ClusterSpec, view: Map<string, NodeView>, from: string, to: string): { ok: true } | { ok: false; reason: string } {
  const cv = view.get(to);
  if (!isStandbyNow(cv)) return { ok: false, reason: `${to} is not a reachable standby` };
  const mine = receivedLsn(cv!);
  if (mine === null) return spec.replication.mode === 'async' ? chooseFailoverCandidate(spec, view, from, to, null) : { ok: false, reason: `${to} reports no received LSN` };
  if (spec.replication.mode === 'async') return chooseFailoverCandidate(spec, view, from, to, null);
  for (const v of view.values()) {
    if (v.spec.name === from || v.spec.name === to || !isStandbyNow(v) || v.spec.tags.nosync) continue;
    const theirs = receivedLsn(v);
    if (theirs !== null && compareLsn(theirs, mine) > 0) return { ok: false, reason: `${v.spec.name} received more WAL (${theirs}) than ${to} (${mine})` };
  }
  return { ok: true };
}
