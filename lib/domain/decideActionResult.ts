import { reportedWalLsn, shutdownCheckpoint } from './actionDetail.ts';
import { AgentClock, describeSkew, skewBeyond, skewWithin } from './clockSkew.ts';
import type { CommandOf } from './commands.ts';
import { accept, type Decision } from './decision.ts';
import { abort, afterPromotion, complete, requestPromotion } from './failoverSteps.ts';
import { reportSyncNames } from './decideObserve.ts';
import { Outcome } from './outcome.ts';
import type { Intent } from './events.ts';
import { isDeposed, type ClusterState } from './state.ts';

/** An agent or endpoint driver answered an intent: record it and take the step it unlocks. */
export function decideActionResult(cmd: CommandOf<'actionResult'>, state: ClusterState): Decision {
  const spec = state.spec;
  const pending = state.pending.find((p) => p.intent.id === cmd.intentId);
  // A late or repeated answer to an intent already settled changes nothing.
  if (spec === null || pending === undefined) return accept([]);
  const { intent } = pending;
  const o = new Outcome(state, cmd.now);

  if (!cmd.ok) {
    o.emit('ActionFailed', intent.term, `${intent.action} on ${intent.node} failed: ${cmd.reason}`, { intent });
    recordAgentClock(o, intent.node, cmd.detail);
    const f = o.state.failover;
    if (f && f.term === intent.term && f.kind === 'switchover' && intent.action === 'demote') {
      abort(o, f, `switchover aborted: ${f.from} could not be stopped cleanly (${cmd.reason})`);
    }
    rewindDiverged(o, intent, cmd.reason);
    return o.result();
  }

  o.emit('ActionSucceeded', intent.term, `${intent.action} on ${intent.node} done: ${cmd.reason}`, { intent, detail: cmd.detail });
  recordAgentClock(o, intent.node, cmd.detail);
  const f = o.state.failover;
  const current = f !== null && f.term === intent.term;
  switch (intent.action) {
    case 'fence':
      if (current && f.step === 'fencing' && f.from === intent.node) {
        // An operator's failover may stop a primary that was writing up to now: the candidate
        // was judged before those writes, so it is judged again on a probe round after the stop.
        const recheck = f.kind === 'manual';
        const end = recheck ? reportedWalLsn(cmd.detail) : null;
        const then = recheck ? `${end ? ` (its WAL ended at ${end})` : ''}; ${f.to} is checked again on the next probe round before its promotion` : '';
        o.emit('Fenced', f.term, `${intent.node}'s agent confirms PostgreSQL is stopped${then}`, { node: intent.node, by: 'agent', evidence: [] });
        if (!recheck) requestPromotion(o, spec, null);
      } else if (current && f.step === 'promoting' && f.to === intent.node && !o.pendingFor('promote', intent.node)) {
        // The candidate that no longer qualified (or was lost) is stopped: no promotion of it can land any more.
        const why = o.state.down.includes(f.to) ? 'was lost after its promotion was asked for' : 'no longer qualifies';
        abort(o, f, `candidate ${f.to} ${why} and its agent confirms PostgreSQL stopped at term ${f.term}: it is deposed, and the next round chooses again`);
      } else if (isDeposed(o.state, intent.node) && o.state.primary !== null && !o.state.blind && !o.state.paused) {
        o.request('rewind', intent.node, o.state.term, `${intent.node} is stopped and its agent answers: rewind it and let it follow ${o.state.primary}`, {
          primary: o.state.primary,
        });
      }
      break;
    case 'demote':
      if (current && f.step === 'fencing' && f.from === intent.node) {
        const checkpoint = shutdownCheckpoint(cmd.detail);
        const at = checkpoint.ignored === null ? ` at shutdown checkpoint ${checkpoint.lsn ?? 'unknown'}` : `, but ${checkpoint.ignored}: the promotion waits for no checkpoint`;
        o.emit('Fenced', f.term, `${intent.node} stopped cleanly${at}`, {
          node: intent.node,
          by: 'demote',
          evidence: [],
        });
        requestPromotion(o, spec, null);
      }
      break;
    case 'promote':
      if (current && f.step === 'promoting' && f.to === intent.node) {
        afterPromotion(o, spec, intent.node, `${intent.node} promoted: ${cmd.reason}`, reportedWalLsn(cmd.detail));
        // The setting its agent put in force before the node took a write: a crash before any
        // probe sees the new primary must not leave its quorum unknown (rule 2 refuses that).
        const names = cmd.detail['synchronousStandbyNames'];
        if (typeof names === 'string') reportSyncNames(o, spec, intent.node, names, f.term, ' (as its agent set it before the promotion)');
      }
      break;
    case 'endpoints':
      if (current) complete(o, f, `${f.to} is primary of term ${f.term}; the writer endpoint points at it`);
      break;
    case 'follow':
      // A synchronous standby detached from the old primary: the promotion may be next.
      if (current && f.step === 'promoting') requestPromotion(o, spec, null);
      break;
    case 'rewind':
    case 'start':
      break;
    default: {
      const unhandled: never = intent.action;
      return unhandled;
    }
  }
  return o.result();
}

/**
 * Issue 13 item 5: the agent's clock as measured on its answer (the reactor's `agentClock`).
 * Beyond the skew the agent allows, every signed request to it is refused: recorded once, with
 * the figure, until an answer shows it within again. A figure that is neither (the round trip
 * hides which side it is on) or unreadable changes nothing.
 */
function recordAgentClock(o: Outcome, node: string, detail: Record<string, unknown>): void {
  if (detail['agentClock'] === undefined) return;
  const read = AgentClock.safeParse(detail['agentClock']);
  if (!read.success) return;
  const clock = read.data;
  const known = Object.hasOwn(o.state.clockSkew, node);
  const fields = { node, skewMs: clock.skewMs, uncertaintyMs: clock.uncertaintyMs, maxSkewMs: clock.maxSkewMs };
  if (!known && skewBeyond(clock)) {
    o.emit(
      'ClockSkewed',
      o.state.term,
      `the clock of ${node}'s agent is ${describeSkew(clock)}, beyond the ${clock.maxSkewMs} ms it allows: it refuses every signed request (401) until the clocks agree (check NTP on ${node}'s host and on the control plane)`,
      fields,
    );
  } else if (known && skewWithin(clock)) {
    o.emit('ClockSkewCleared', o.state.term, `the clock of ${node}'s agent is within the ${clock.maxSkewMs} ms it allows again: ${describeSkew(clock)}`, fields);
  }
}

/**
 * The agent's follow answers "diverged" when this node's WAL went past the point where its new
 * upstream's timeline forked (a standby that lost power while it streamed from an old primary
 * behind a partition, and came back after the failover): PostgreSQL would retry that stream for
 * ever. It is rewound onto the primary it was to follow, in the same term; a rewind of a node
 * that has not diverged only re-points it. Never the primary itself, nor in another term.
 */
function rewindDiverged(o: Outcome, intent: Intent, reason: string): void {
  const s = o.state;
  if (intent.action !== 'follow' || !reason.startsWith('diverged') || intent.primary === null) return;
  if (intent.term !== s.term || intent.primary !== s.primary || intent.node === s.primary) return;
  o.request('rewind', intent.node, s.term, `${intent.node}'s WAL went past where ${intent.primary}'s timeline forked (its follow answered: ${reason}): rewind it onto ${intent.primary}`, { primary: intent.primary });
}

