import { performance } from 'node:perf_hooks';
import type { PgServer } from '../postgres/pgServer.ts';

interface Seen {
  /** The member the walsender serves. */
  name: string;
  /** The standby's last reply time: a change is a reply. */
  reply: string | null;
  /** When, on this agent's monotonic clock, that value last changed. */
  changedAt: number;
}

/**
 * Which standbys have replied to this primary lately, judged on this host's clock only.
 *
 * `pg_stat_replication.reply_time` is stamped by the standby's clock, so comparing it with
 * `now()` here would make the lease rule depend on the clock difference between hosts. Instead
 * the agent samples it and notes, on its own monotonic clock, when each member's value last
 * moved. A standby replies at least every `wal_receiver_status_interval` (and whenever it
 * receives WAL), so that setting must be well under the lease TTL on every standby; local mode
 * and the shipped host setup set it to 1 s. A walsender first seen counts as replying at that
 * moment: it has spoken within `wal_sender_timeout`, after which PostgreSQL ends it.
 */
export class StandbyReplies {
  /** By walsender pid: two for one name (a stale one not yet timed out) are followed apart. */
  private readonly seen = new Map<number, Seen>();

  constructor(private readonly pg: PgServer) {}

  /**
   * Sample the physical walsenders (connected to no database: not a logical/CDC client) named
   * after one of `members`, streaming. False when pg_stat_replication could not be read.
   */
  async sample(members: readonly string[]): Promise<boolean> {
    if (members.length === 0) {
      this.seen.clear();
      return true;
    }
    const r = await this.pg.sql<{ name: string; pid: number; reply: string | null }>(
      `SELECT r.application_name AS name, r.pid, r.reply_time::text AS reply
         FROM pg_stat_replication r JOIN pg_stat_activity a ON a.pid = r.pid
        WHERE r.state = 'streaming' AND a.datid IS NULL AND r.application_name = ANY($1::text[])`,
      [[...members]],
      1_000,
    );
    if (!r.ok) return false;
    const now = performance.now();
    const present = new Set<number>();
    for (const row of r.rows) {
      present.add(row.pid);
      const prev = this.seen.get(row.pid);
      if (!prev || prev.reply !== row.reply) this.seen.set(row.pid, { name: row.name, reply: row.reply, changedAt: now });
    }
    for (const pid of [...this.seen.keys()]) if (!present.has(pid)) this.seen.delete(pid);
    return true;
  }

  /** The members with a walsender here whose reply moved within `withinMs`, as of the last sample. */
  replying(members: readonly string[], withinMs: number): string[] {
    const now = performance.now();
    // Of two walsenders for one name, the freshest counts.
    const fresh = new Set<string>();
    for (const s of this.seen.values()) if (now - s.changedAt <= withinMs) fresh.add(s.name);
    return members.filter((m) => fresh.has(m));
  }

  /**
   * Until when (performance.now()) `replying(members, withinMs)` keeps naming every member, as
   * of the last sample: the oldest member's latest reply plus `withinMs`; null when one has no
   * walsender here. With no members, `withinMs` from now. The watchdog is fed this: it is when
   * the agent's own rule past a lapsed lease would stop PostgreSQL, if no later reply came.
   */
  allReplyingUntil(members: readonly string[], withinMs: number): number | null {
    if (members.length === 0) return performance.now() + withinMs;
    const latest = new Map<string, number>();
    for (const s of this.seen.values()) latest.set(s.name, Math.max(latest.get(s.name) ?? -Infinity, s.changedAt));
    let oldest = Infinity;
    for (const m of members) {
      const at = latest.get(m);
      if (at === undefined) return null;
      oldest = Math.min(oldest, at);
    }
    return oldest + withinMs;
  }
}
