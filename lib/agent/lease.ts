import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { renewLease } from '../store/leases.ts';
import type { Store } from '../store/store.ts';
import type { ActionLock } from './actionLock.ts';
import type { FenceMarker } from './fenceMarker.ts';
import type { PgServer } from '../postgres/pgServer.ts';
import { readServerState } from './serverState.ts';
import type { VipConfig } from '../endpoints/vip/vipConfig.ts';
import { dropWriterVip } from './writerVip.ts';
import type { Log } from '../log.ts';
import type { LeaseMetrics } from './agentMetrics.ts';

export interface LeaseLoopOptions {
  store: Store;
  cluster: string;
  node: string;
  ttlMs: number;
  renewEveryMs: number;
  /** The agent's current term, written into the lease. */
  term: () => number;
  pg: PgServer;
  fence: FenceMarker;
  log: Log;
  /** The writer VIP, released when this node fences itself. */
  vip?: VipConfig;
  /** The agent's action lock: a lapsed lease is checked and acted on under it, never amid a promote, follow or fence. */
  lock: ActionLock;
  /** Counts renewals by outcome and when the last one that succeeded was sent. */
  metrics?: LeaseMetrics;
}

/** How often an agent renews a lease of `ttlMs`: three tries per TTL, never more often than every 50 ms. */
export function leaseRenewEveryMs(ttlMs: number): number {
  return Math.max(50, Math.floor(ttlMs / 3));
}

export interface LeaseLoop {
  stop(): Promise<void>;
  /** For status and tests: the version we hold, and ms since the last renewal was sent. */
  snapshot(): { version: number | null; sinceRenewMs: number; selfFenced: boolean };
}

/**
 * Renews this node's lease every renewEveryMs (conditional on the version we hold). When no
 * renewal has succeeded for ttlMs (measured from when it was *sent*, on a monotonic clock,
 * so the store may have seen it later, never earlier) and PostgreSQL here is a primary that
 * no standby streams from, stop PostgreSQL: rule 3 of DESIGN.md. While a standby streams,
 * keep serving: a control-plane outage alone must not take a healthy primary down.
 */
export function startLeaseLoop(o: LeaseLoopOptions): LeaseLoop {
  const holder = `${o.node}@${hostname()}/${process.pid}`;
  let version: number | null = null;
  let lastRenewSentAt = performance.now();
  let renewing: Promise<void> | null = null;
  let checking: Promise<void> | null = null;
  let failing = false;
  let lapseNoted: string | null = null;
  let selfFenced = false;
  let stopped = false;

  const renew = async () => {
    const sentAt = performance.now();
    const r = await renewLease(o.store, { cluster: o.cluster, node: o.node, term: o.term(), holder }, version);
    if (r.ok) {
      version = r.version;
      lastRenewSentAt = sentAt;
      o.metrics?.renewed(sentAt);
      if (failing) o.log({ level: 'info', msg: 'lease renewed again', version });
      failing = false;
      lapseNoted = null;
      selfFenced = false;
    } else if (r.conflict) {
      // Someone (an earlier run of this agent) holds a newer version: take it and renew on the next tick.
      o.log({ level: 'info', msg: 'lease version moved: adopting it', current: r.current?.version ?? null, holder: r.current?.holder ?? null });
      version = r.current?.version ?? null;
      o.metrics?.conflict();
    } else {
      if (!failing) o.log({ level: 'warn', msg: 'lease renewal failed', reason: r.reason });
      o.metrics?.failed();
      failing = true;
    }
  };

  const check = async () => {
    const since = performance.now() - lastRenewSentAt;
    if (since < o.ttlMs || selfFenced) return;
    const state = await readServerState(o.pg, Math.min(1_000, o.ttlMs));
    if (!state.running) return note('lease lapsed; PostgreSQL is not running here', 'info', since);
    if (state.answering && state.inRecovery) return note('lease lapsed; this node is a standby, nothing to fence', 'info', since);
    if (state.answering) {
      const r = await o.pg.sql<{ name: string }>("SELECT application_name AS name FROM pg_stat_replication WHERE state = 'streaming'", [], 1_000);
      if (r.ok && r.rows.length > 0) {
        return note(`lease lapsed; keeping PostgreSQL serving because standbys stream from it: ${r.rows.map((x) => x.name).join(', ')}`, 'warn', since);
      }
    }
    const why = state.answering
      ? `lease not renewed for ${Math.round(since)} ms (TTL ${o.ttlMs} ms) and no standby streams from this primary`
      : `lease not renewed for ${Math.round(since)} ms (TTL ${o.ttlMs} ms) and PostgreSQL does not answer (${state.why})`;
    o.log({ level: 'warn', msg: 'self-fencing: stopping PostgreSQL', why });
    await o.fence.set(o.term(), `${SELF_FENCE_PREFIX} ${why}`);
    // The writer address goes before PostgreSQL stops, as in the fence action.
    await dropWriterVip(o.vip, o.log, 'self-fencing');
    const stop = await o.pg.stopNow(1);
    selfFenced = stop.ok;
    o.log({ level: stop.ok ? 'warn' : 'error', msg: stop.ok ? 'self-fenced: PostgreSQL stopped' : 'self-fencing could not stop PostgreSQL', why, how: stop.ok ? stop.how : stop.reason });
  };

  const note = (msg: string, level: 'info' | 'warn', since: number) => {
    if (lapseNoted === msg) return;
    lapseNoted = msg;
    o.log({ level, msg, sinceRenewMs: Math.round(since) });
  };

  const renewTimer = setInterval(() => {
    if (stopped || renewing) return;
    renewing = renew()
      .catch((e: unknown) => (o.metrics?.failed(), o.log({ level: 'error', msg: 'lease renewal threw', error: String(e) })))
      .finally(() => (renewing = null));
  }, o.renewEveryMs);
  // Checked more often than renewed, so a lapse is acted on soon after the TTL.
  const checkTimer = setInterval(() => {
    if (stopped || checking) return;
    // Once lapsed, the check (and the stop it may make) waits its turn on the action lock.
    const lapsed = !selfFenced && performance.now() - lastRenewSentAt >= o.ttlMs;
    checking = (lapsed ? o.lock.run(async () => (stopped ? undefined : check())) : check())
      .catch((e: unknown) => o.log({ level: 'error', msg: 'lease check threw', error: String(e) }))
      .finally(() => (checking = null));
  }, Math.min(o.renewEveryMs, 100));
  // The first renewal at once: a fresh agent should not wait a period to hold its lease.
  renewing = renew()
    .catch((e: unknown) => (o.metrics?.failed(), o.log({ level: 'error', msg: 'lease renewal threw', error: String(e) })))
    .finally(() => (renewing = null));

  return {
    async stop() {
      stopped = true;
      clearInterval(renewTimer);
      clearInterval(checkTimer);
      await Promise.allSettled([renewing, checking]);
    },
    snapshot: () => ({ version, sinceRenewMs: Math.round(performance.now() - lastRenewSentAt), selfFenced }),
  };
}

/** How a fence marker the agent set itself (lease lapsed) begins: promote may lift it, nothing else. */
export const SELF_FENCE_PREFIX = 'self-fenced:';
