/** The prober of the simulated cluster: it turns the world into NodeObservations as the real one does. */
import type { NodeObservation } from '../../../lib/domain/observation.ts';
import { observation } from '../../support/observation.ts';
import { LSN0, lsnText, T0, WorldReplication, type ProberMemory, type WorldConfig } from './worldReplication.ts';

export class WorldProber extends WorldReplication {
  private readonly prober = new Map<string, ProberMemory>();
  /** What the prober saw on the last round, by node. */
  lastRound: NodeObservation[] = [];

  constructor(cfg: WorldConfig, rand: () => number, primary: string) {
    super(cfg, rand, primary);
    for (const n of cfg.nodes) {
      const isPrimary = n.name === primary;
      this.prober.set(n.name, { failures: 0, failingSince: null, leaseVersion: 1, leaseSeenAt: T0, lastKnownWalLsn: isPrimary ? LSN0 : null });
    }
  }

  // ---- the prober ----

  /** One probe round, exactly what the real prober would write for each node. */
  probe(): NodeObservation[] {
    const lsnOfReachablePrimary = new Map<string, number>();
    for (const n of this.nodes.values()) if (this.cpReaches(n) && this.running(n) && n.pg === 'primary') lsnOfReachablePrimary.set(n.name, n.lsn);
    const out: NodeObservation[] = [];
    for (const n of this.nodes.values()) {
      const mem = this.prober.get(n.name)!;
      if (n.leaseVersion !== mem.leaseVersion) {
        mem.leaseVersion = n.leaseVersion;
        mem.leaseSeenAt = this.now;
      }
      // The lease is read from the store, so it is seen even when the node is not.
      // The agent names every other node as the members it counts (the world's agents know the spec).
      const lease = { version: n.leaseVersion, changedSeenAt: mem.leaseSeenAt, term: n.leaseTerm, members: [...this.nodes.keys()].filter((x) => x !== n.name), ttlMs: this.cfg.leaseTtlMs };
      const reachable = this.cpReaches(n) && this.running(n);
      if (!reachable) {
        mem.failures += 1;
        mem.failingSince ??= this.now;
        const kind = this.cpReaches(n) ? 'refused' : 'timeout';
        out.push({
          ...blank(n.name, this.now),
          reachable: false,
          error: { kind, message: kind === 'refused' ? 'connect ECONNREFUSED' : 'timeout expired' },
          consecutiveFailures: mem.failures,
          failingSince: mem.failingSince,
          role: 'unknown',
          lastKnownWalLsn: mem.lastKnownWalLsn === null ? null : lsnText(mem.lastKnownWalLsn),
          lease,
        });
        continue;
      }
      mem.failures = 0;
      mem.failingSince = null;
      if (n.pg === 'primary') {
        mem.lastKnownWalLsn = n.lsn;
        const rows = [...this.nodes.values()]
          .filter((s) => s.name !== n.name && this.streamsFrom(s) === n.name)
          .map((s) => ({
            name: s.name,
            state: 'streaming',
            syncState: this.cfg.mode === 'synchronous' && !s.nosync ? ('quorum' as const) : ('async' as const),
            sentLsn: lsnText(s.lsn),
            flushLsn: lsnText(s.lsn),
            replayLsn: lsnText(s.lsn),
          }));
        const eligible = this.cfg.nodes.filter((x) => x.name !== n.name && !x.nosync).map((x) => x.name);
        out.push({
          ...blank(n.name, this.now),
          role: 'primary',
          timeline: n.tl,
          walLsn: lsnText(n.lsn),
          lastKnownWalLsn: lsnText(n.lsn),
          replication: rows,
          synchronousStandbyNames: this.cfg.mode === 'synchronous' && eligible.length > 0 ? `ANY 1 (${eligible.join(', ')})` : '',
          lease,
        });
      } else {
        const up = this.streamsFrom(n);
        const upLsn = up ? lsnOfReachablePrimary.get(up) : undefined;
        out.push({
          ...blank(n.name, this.now),
          role: 'standby',
          timeline: n.tl,
          receiveLsn: lsnText(n.lsn),
          replayLsn: lsnText(n.lsn),
          lagBytes: upLsn === undefined ? null : Math.max(0, upLsn - n.lsn),
          lagSeconds: 0,
          lastKnownWalLsn: mem.lastKnownWalLsn === null ? null : lsnText(mem.lastKnownWalLsn),
          walReceiver: up
            ? { status: 'streaming', upstream: up, senderHost: '127.0.0.1', senderPort: 5432, lastMsgReceiptAt: n.recv!.lastMsgAt }
            : null,
          receiverSince: this.receiverSince(n.name, up),
          lease,
        });
      }
    }
    this.lastRound = out;
    return out;
  }

  private readonly receiverSeen = new Map<string, { up: string | null; since: number }>();

  /** Like the real prober: when the node's receiver was first seen in its current state. */
  private receiverSince(name: string, up: string | null): number {
    const seen = this.receiverSeen.get(name);
    if (seen && seen.up === up) return seen.since;
    this.receiverSeen.set(name, { up, since: this.now });
    return this.now;
  }

  lastKnownWalLsn(name: string): number | null {
    return this.prober.get(name)?.lastKnownWalLsn ?? null;
  }
}

function blank(node: string, at: number): NodeObservation {
  return observation(node, at, { prober: 'sim' });
}
