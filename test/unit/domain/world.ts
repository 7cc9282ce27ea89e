/**
 * A simulated cluster for property tests of the decider, in three parts: the cluster's model,
 * physics and faults (worldReplication.ts), the prober (worldProber.ts), and here the agent side
 * of the reactor: what each intent does to the world.
 */
import type { Intent } from '../../../lib/domain/events.ts';
import { specSyncNames } from '../../../lib/domain/syncNames.ts';
import { WorldProber } from './worldProber.ts';
import { CHECKPOINT_BYTES, lsnText, lsnToNumber, type ActionReply } from './worldReplication.ts';

export { lsnText, lsnToNumber, PROBE_INTERVAL_MS, prng, RULES, specOf, T0, type ActionReply, type Rule, type SimNode, type WorldConfig } from './worldReplication.ts';

export class World extends WorldProber {
  // ---- the agent side of the reactor ----

  /**
   * Execute an intent against the world; null when the agent could not be reached (the call
   * times out). `delivered`: the request already sits on the host (late), so only the agent's
   * running matters, not whether the control plane reaches it.
   */
  execute(intent: Intent, delivered = false): ActionReply | null {
    if (intent.action === 'endpoints') {
      this.writer = intent.node;
      this.readers = intent.readers ?? [];
      return { ok: true, reason: 'endpoints switched', detail: {} };
    }
    const n = this.nodes.get(intent.node);
    if (!n || !(delivered ? this.agentRuns(n) : this.agentAnswers(n))) return null;
    if (intent.term < n.agentTerm) return { ok: false, reason: `stale term ${intent.term} < ${n.agentTerm}`, detail: {} };
    // At least the term of any fence this agent holds (the world keeps no fence term of its own).
    const termBefore = n.agentTerm;
    n.agentTerm = intent.term;
    switch (intent.action) {
      case 'fence': {
        // The agent reads a primary's WAL position just before it stops it (when PostgreSQL answers).
        const walLsn = n.pg === 'primary' && this.running(n) && !this.frozen(n) ? lsnText(n.lsn) : null;
        if (n.pg !== 'stopped') n.lastRole = n.pg;
        n.pg = 'stopped';
        n.fenced = true;
        n.selfFenced = false;
        n.recv = null;
        n.recvKnown = false;
        return { ok: true, reason: 'PostgreSQL stopped', detail: { walLsn } };
      }
      case 'demote': {
        if (n.pg === 'primary') {
          n.lsn += CHECKPOINT_BYTES;
          n.replayed = n.lsn;
          // A clean shutdown waits for the WAL senders: connected standbys get everything.
          for (const s of this.nodes.values()) {
            if (this.streamsFrom(s) === n.name && s.recv!.flowing && this.canStream(s, n)) this.adoptHistory(s, n, n.lsn);
          }
          n.lastRole = 'primary';
          n.pg = 'stopped';
          n.fenced = true;
          n.selfFenced = false;
          return { ok: true, reason: 'stopped cleanly', detail: { checkpointLsn: lsnText(n.lsn) } };
        }
        if (n.pg === 'stopped' && n.fenced && n.lastRole === 'primary') return { ok: true, reason: 'already stopped', detail: { checkpointLsn: lsnText(n.lsn) } };
        return { ok: false, reason: `not a primary (${n.pg})`, detail: {} };
      }
      case 'promote': {
        // The agent reads its WAL position after promoting, as the real one does (pg_current_wal_lsn).
        if (n.pg === 'primary' && n.primaryTerm === intent.term) return { ok: true, reason: 'already primary', detail: { walLsn: lsnText(n.lsn) } };
        // Assumed agent contract (not built, ARCHITECTURE open problems): promote reads the log's
        // term from the store and refuses a term the log has moved past. A promote the reactor gave
        // up on, run late by a host that thawed, would otherwise make a second primary.
        if (!this.reachesStore(n)) return { ok: false, reason: 'the store does not answer: not promoted', detail: {} };
        if (this.logTerm > intent.term) return { ok: false, reason: `the log is at term ${this.logTerm}, past ${intent.term}: not promoted`, detail: {} };
        // promote renews a lapsed lease first and refuses when it can't (a promotion run late,
        // on a host that was frozen or cut off, would otherwise stop itself at its next check).
        if (this.leaseLapsed(n)) {
          if (!this.reachesStore(n) || this.now < n.leaseBlockedUntil) return { ok: false, reason: 'lease lapsed and the store does not answer: not promoted', detail: {} };
          this.renewLease(n);
        }
        // Agent contract: a primary of this very term that stopped itself (its lease lapsed)
        // starts again as that primary when the control plane asks for the same promotion.
        if (n.pg === 'stopped' && n.selfFenced && n.lastRole === 'primary' && n.primaryTerm === intent.term && n.hostUp) {
          n.pg = 'primary';
          n.fenced = false;
          n.selfFenced = false;
          return { ok: true, reason: 'restarted as primary of its term after stopping itself', detail: { walLsn: lsnText(n.lsn) } };
        }
        // Agent contract (issue 13 items 4 and 2a): a primary the control plane stopped (fence,
        // demote) in an earlier term starts again as primary of this one, over its own data.
        if (n.pg === 'stopped' && n.fenced && !n.selfFenced && n.lastRole === 'primary' && intent.term > termBefore && n.hostUp) {
          n.pg = 'primary';
          n.fenced = false;
          n.primaryTerm = intent.term;
          return { ok: true, reason: `restarted as primary of term ${intent.term} over a fence of an earlier term`, detail: { walLsn: lsnText(n.lsn) } };
        }
        if (n.pg !== 'standby') return { ok: false, reason: `cannot promote: ${n.pg}`, detail: {} };
        if (intent.minLsn !== null && lsnToNumber(intent.minLsn) > n.replayed) return { ok: false, reason: `replay ${lsnText(n.replayed)} short of ${intent.minLsn}`, detail: {} };
        // The reactor sends the spec's synchronous_standby_names; the agent puts it in force
        // before the promotion and answers it (syncNamesBeforePromotion).
        const sync = this.cfg.mode === 'synchronous' ? { synchronousStandbyNames: (n.syncNames = specSyncNames(this.logSpec)) } : {};
        this.maxTl += 1;
        n.history.push({ tl: this.maxTl, start: n.lsn });
        n.tl = this.maxTl;
        n.pg = 'primary';
        n.lastRole = 'primary';
        n.upstream = null;
        n.recv = null;
        n.primaryTerm = intent.term;
        n.ackedLsn = n.lsn;
        // pg_promote replays everything received first.
        n.replayed = n.lsn;
        this.promotions.push({ term: intent.term, node: n.name, at: this.now });
        this.reign = { node: n.name, since: this.now, term: intent.term, ownAck: false, foreignAcks: [] };
        return { ok: true, reason: `promoted on timeline ${n.tl}`, detail: { walLsn: lsnText(n.lsn), ...sync } };
      }
      case 'follow': {
        if (n.pg === 'primary') return { ok: false, reason: 'a running primary must be rewound, not re-pointed', detail: {} };
        if (n.pg === 'stopped') n.recvKnown = false;
        n.upstream = intent.primary;
        n.pg = 'standby';
        n.lastRole = 'standby';
        n.fenced = false;
        n.selfFenced = false;
        return { ok: true, reason: `following ${intent.primary}`, detail: {} };
      }
      case 'start': {
        // Agent contract (lib/agent/actions/start.ts): a stopped standby, never over a fence,
        // is started in recovery with its upstream unchanged; a running server is left alone.
        if (n.pg !== 'stopped') return { ok: true, reason: `already running (${n.pg})`, detail: { started: false } };
        if (n.fenced || n.lastRole !== 'standby' || !n.hostUp) return { ok: false, reason: 'not a stopped standby it may start', detail: {} };
        n.pg = 'standby';
        n.recvKnown = false;
        return { ok: true, reason: 'started in recovery as it was', detail: { started: true } };
      }
      case 'rewind': {
        const src = intent.primary ? this.nodes.get(intent.primary) : undefined;
        if (!src || !this.running(src) || src.pg !== 'primary' || !this.linked(n, src) || this.frozen(src)) {
          return { ok: false, reason: 'rewind source unreachable', detail: {} };
        }
        let common = 0;
        for (let i = n.history.length - 1; i >= 0; i--) {
          const tl = n.history[i]!.tl;
          if (this.posOn(src, tl) >= 0) {
            common = Math.min(this.posOn(n, tl), this.posOn(src, tl));
            break;
          }
        }
        this.adoptHistory(n, src, common);
        n.pg = 'standby';
        n.lastRole = 'standby';
        n.upstream = src.name;
        n.recv = null;
        n.recvKnown = false;
        n.fenced = false;
        n.selfFenced = false;
        return { ok: true, reason: `rewound onto ${src.name}`, detail: {} };
      }
      default:
        return { ok: false, reason: `unknown action ${intent.action}`, detail: {} };
    }
  }
}
