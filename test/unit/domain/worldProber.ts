/** The prober of the simulated cluster: it turns the world into NodeObservations as the real one does. */
import type { NodeObservation } from '../../../lib/domain/observation.ts';
import { parseSyncNames } from '../../../lib/domain/syncNames.ts';
import { observation } from '../../support/observation.ts';
import { LSN0, lsnText, T0, WorldReplication, type ProberMemory, type WorldConfig } from './worldReplication.ts';

/** The spec's heartbeatMs (specOf). */
const HEARTBEAT_MS = 10_000;

export class WorldProber extends WorldReplication {
  private prober = new Map<string, ProberMemory>();
  /**
   * What the store holds of each node's memory: the real prober writes an observation when it
   * changes (reachability, role) and at the heartbeat, and a restarted prober resumes from it.
   */
  private stored = new Map<string, ProberMemory & { role: string; writtenAt: number }>();
  /** The fact the judge uses: each primary's LSN when a probe last reached it, whatever the prober remembers. */
  private readonly seenOnWire = new Map<string, number>();
  /** What the prober saw on the last round, by node. */
  lastRound: NodeObservation[] = [];

  constructor(cfg: WorldConfig, rand: () => number, primary: string) {
    super(cfg, rand, primary);
    for (const n of cfg.nodes) {
      const isPrimary = n.name === primary;
      this.prober.set(n.name, { failures: 0, failingSince: null, leaseVersion: 1, leaseSeenAt: T0, lastKnownWalLsn: isPrimary ? LSN0 : null, lastKnownWalAt: isPrimary ? T0 : null, lastKnownTimeline: isPrimary ? 1 : null });
      if (isPrimary) this.seenOnWire.set(n.name, LSN0);
    }
  }

  // ---- the prober ----

  /** The prober's clock: every time it writes is by it, not by the world. */
  get proberNow(): number {
    return this.now + (this.cfg.proberSkewMs ?? 0);
  }

  /** One probe round, exactly what the real prober would write for each node. */
  probe(): NodeObservation[] {
    const lsnOfReachablePrimary = new Map<string, number>();
    for (const n of this.nodes.values()) if (this.cpReaches(n) && this.running(n) && n.pg === 'primary') lsnOfReachablePrimary.set(n.name, n.lsn);
    const out: NodeObservation[] = [];
    for (const n of this.nodes.values()) {
      const mem = this.prober.get(n.name)!;
      if (n.leaseVersion !== mem.leaseVersion) {
        mem.leaseVersion = n.leaseVersion;
        mem.leaseSeenAt = this.proberNow;
      }
      // The lease is read from the store, so it is seen even when the node is not.
      // The members the agent counted at its last renewal (as it last read them from the log).
      const lease = { version: n.leaseVersion, changedSeenAt: mem.leaseSeenAt, term: n.leaseTerm, members: [...n.leaseMembers], ttlMs: n.leaseTtl };
      const reachable = this.cpReaches(n) && this.running(n);
      if (!reachable) {
        mem.failures += 1;
        mem.failingSince ??= this.proberNow;
        const kind = this.cpReaches(n) ? 'refused' : 'timeout';
        out.push({
          ...blank(n.name, this.proberNow),
          reachable: false,
          error: { kind, message: kind === 'refused' ? 'connect ECONNREFUSED' : 'timeout expired' },
          consecutiveFailures: mem.failures,
          failingSince: mem.failingSince,
          role: 'unknown',
          lastKnownWalLsn: mem.lastKnownWalLsn === null ? null : lsnText(mem.lastKnownWalLsn),
          lastKnownWalAt: mem.lastKnownWalAt,
          lastKnownTimeline: mem.lastKnownTimeline,
          lease,
        });
        continue;
      }
      mem.failures = 0;
      mem.failingSince = null;
      if (n.pg === 'primary') {
        mem.lastKnownWalLsn = n.lsn;
        mem.lastKnownWalAt = this.proberNow;
        mem.lastKnownTimeline = n.tl;
        this.seenOnWire.set(n.name, n.lsn);
        const q = parseSyncNames(n.syncNames);
        const named = new Set(q === null || q === 'unparsed' ? [] : q.names);
        const rows = [...this.nodes.values()]
          .filter((s) => s.name !== n.name && this.streamsFrom(s) === n.name)
          .map((s) => ({
            name: s.name,
            state: 'streaming',
            syncState: named.has(s.name) ? ('quorum' as const) : ('async' as const),
            sentLsn: lsnText(s.lsn),
            flushLsn: lsnText(s.lsn),
            replayLsn: lsnText(s.replayed),
          }));
        out.push({
          ...blank(n.name, this.proberNow),
          role: 'primary',
          timeline: n.tl,
          walLsn: lsnText(n.lsn),
          lastKnownWalLsn: lsnText(n.lsn),
          lastKnownWalAt: this.proberNow,
          lastKnownTimeline: n.tl,
          replication: rows,
          // The setting in force on this server, which its agent keeps at the spec's value.
          synchronousStandbyNames: n.syncNames,
          lease,
        });
      } else {
        const up = this.streamsFrom(n);
        const upLsn = up ? lsnOfReachablePrimary.get(up) : undefined;
        out.push({
          ...blank(n.name, this.proberNow),
          role: 'standby',
          timeline: n.tl,
          // NULL from a restart until the receiver first streams; replay may trail what was received.
          receiveLsn: n.recvKnown ? lsnText(n.lsn) : null,
          replayLsn: lsnText(n.replayed),
          lagBytes: upLsn === undefined ? null : Math.max(0, upLsn - n.lsn),
          lagSeconds: 0,
          lastKnownWalLsn: mem.lastKnownWalLsn === null ? null : lsnText(mem.lastKnownWalLsn),
          lastKnownWalAt: mem.lastKnownWalAt,
          lastKnownTimeline: mem.lastKnownTimeline,
          walReceiver: up
            ? { status: 'streaming', upstream: up, senderHost: '127.0.0.1', senderPort: 5432, lastMsgReceiptAt: n.recv!.lastMsgAt + (this.hostNow(n) - this.now) }
            : null,
          receiverSince: this.receiverSince(n.name, up),
          lease,
        });
      }
    }
    // The prober probes the nodes of the spec the log holds (a removed node runs on, unprobed).
    const members = new Set(this.logSpec.nodes.map((x) => x.name));
    this.lastRound = out.filter((o) => members.has(o.node));
    for (const o of out) {
      const kept = this.stored.get(o.node);
      const changed = !kept || kept.role !== o.role || kept.failures === 0 !== o.reachable;
      // A failing node is written every round (its count moves); others on change and at the heartbeat.
      if (changed || !o.reachable || this.proberNow - kept.writtenAt >= HEARTBEAT_MS) this.stored.set(o.node, { ...this.prober.get(o.node)!, role: o.role, writtenAt: this.proberNow });
    }
    return this.lastRound;
  }

  /** The prober restarts (a new Lambda container): it resumes from what the store holds. */
  restartProber(): void {
    const next = new Map<string, ProberMemory>();
    for (const [name, mem] of this.prober) {
      const kept = this.stored.get(name);
      next.set(name, kept ? { failures: kept.failures, failingSince: kept.failingSince, leaseVersion: kept.leaseVersion, leaseSeenAt: kept.leaseSeenAt, lastKnownWalLsn: kept.lastKnownWalLsn, lastKnownWalAt: kept.lastKnownWalAt, lastKnownTimeline: kept.lastKnownTimeline } : { ...mem });
    }
    this.prober = next;
  }

  private readonly receiverSeen = new Map<string, { up: string | null; since: number }>();

  /** Like the real prober: when the node's receiver was first seen in its current state. */
  private receiverSince(name: string, up: string | null): number {
    const seen = this.receiverSeen.get(name);
    if (seen && seen.up === up) return seen.since;
    this.receiverSeen.set(name, { up, since: this.proberNow });
    return this.proberNow;
  }

  /** The node's LSN when a probe last reached it as primary: a fact of the wire, not the prober's memory. */
  lastKnownWalLsn(name: string): number | null {
    return this.seenOnWire.get(name) ?? null;
  }
}

function blank(node: string, at: number): NodeObservation {
  return observation(node, at, { prober: 'sim' });
}
