import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { lsnDiff, lsnToBigInt } from '../domain/lsn.ts';
import type { ActionContext } from './actions/actionTypes.ts';
import type { PublicRoute } from './publicRoutes.ts';
import { readServerState } from './serverState.ts';
import type { WatchdogMetrics } from './watchdog/watchdogLink.ts';
import { WAKE_KINDS } from './watch/findings.ts';
import type { WatchMetrics } from './watch/watchLoop.ts';

/** How an action's answer ended, as a label: what the caller got back, not what it asked for. */
export type ActionOutcome = 'ok' | 'failed' | 'stale_term' | 'bad_request' | 'error';

/** What the lease loop reports (lease.ts): each renewal attempt and its result. */
export interface LeaseMetrics {
  /** A renewal succeeded; `sentAt` is when it was sent, on performance.now()'s clock. */
  renewed(sentAt: number): void;
  /** Another holder's version was newer: adopted, and renewed again at once. */
  conflict(): void;
  /** The store refused, did not answer within the attempt's deadline (leaseRetry.ts), or the renewal threw. */
  failed(): void;
  /** A failed renewal sent again after a short backoff, before its next scheduled period (counted as an attempt as well). */
  retried(): void;
}

export interface AgentMetrics {
  registry: Registry;
  lease: LeaseMetrics;
  /** What the watchdog process reported (lib/agent/watchdog); series only when it is configured. */
  watchdog: WatchdogMetrics;
  /** What the watch reports (lib/agent/watch): series only with a store, where the watch runs. */
  watch: WatchMetrics;
  /** One answered action request (signed and named): counted and timed by action and outcome. */
  answered(action: string, outcome: ActionOutcome, seconds: number): void;
  /** `GET /metrics` in Prometheus' text format, read from PostgreSQL at each scrape. */
  route: PublicRoute;
  /** The exposition text, after reading this host's PostgreSQL once. */
  render(): Promise<string>;
}

const ROLES = ['primary', 'standby', 'stopped', 'unknown'] as const;
const ACTION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** A scrape must not hang on a frozen server: the state read gives up after this. */
const SCRAPE_SQL_TIMEOUT_MS = 1_000;

// Only on a primary: what each standby has replayed, in bytes and in time (replay_lag is null once idle and caught up).
const REPLICATION_SQL = `
SELECT application_name AS name,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS bytes,
       CASE WHEN replay_lag IS NULL AND replay_lsn = pg_current_wal_lsn() THEN 0
            ELSE EXTRACT(EPOCH FROM replay_lag)::float8 END AS seconds
FROM pg_stat_replication WHERE replay_lsn IS NOT NULL`;
// Only on a standby: how old the last replayed transaction is, 0 when everything received is replayed.
const REPLAY_DELAY_SQL = `
SELECT CASE WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 END AS seconds`;

/**
 * The agent's Prometheus metrics, in a registry of its own (several agents share a test
 * process), every series labelled with the agent's cluster and node. Counters move as things
 * happen (actions, lease renewals); the node's role, term, timeline and WAL positions are read
 * from PostgreSQL when Prometheus scrapes, so they are never older than the scrape.
 */
export function agentMetrics(ctx: Pick<ActionContext, 'config' | 'pg' | 'terms' | 'fence'>): AgentMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ cluster: ctx.config.cluster, node: ctx.config.node });
  const registers = [registry];

  const role = new Gauge({ name: 'pgvigil_node_role', help: 'What PostgreSQL on this host is: 1 for its role, 0 for the others', labelNames: ['role'], registers });
  const fenced = new Gauge({ name: 'pgvigil_node_fenced', help: '1 while this node holds a fence marker (it must not serve as primary)', registers });
  const term = new Gauge({ name: 'pgvigil_node_term', help: 'The highest term this agent has admitted', registers });
  const timeline = new Gauge({ name: 'pgvigil_node_timeline', help: 'The timeline PostgreSQL writes (primary) or replays (standby)', registers });
  const wal = new Gauge({ name: 'pgvigil_node_wal_position_bytes', help: 'WAL positions as bytes from 0/0: write (primary), receive and replay (standby)', labelNames: ['position'], registers });
  const replayLagBytes = new Gauge({ name: 'pgvigil_node_replay_lag_bytes', help: 'Standby: WAL received but not yet replayed', registers });
  const replayLagSeconds = new Gauge({ name: 'pgvigil_node_replay_lag_seconds', help: 'Standby: age of the last replayed transaction while WAL waits to be replayed, else 0', registers });
  const replicationBytes = new Gauge({ name: 'pgvigil_replication_lag_bytes', help: "Primary: each standby's replay position behind the primary's WAL", labelNames: ['standby'], registers });
  const replicationSeconds = new Gauge({ name: 'pgvigil_replication_lag_seconds', help: "Primary: each standby's replay lag (pg_stat_replication.replay_lag)", labelNames: ['standby'], registers });
  const leaseAge = ctx.config.store ? new Gauge({ name: 'pgvigil_lease_age_seconds', help: 'Time since the last lease renewal that succeeded was sent', registers }) : null;
  const renewals = new Counter({ name: 'pgvigil_lease_renewals_total', help: 'Lease renewal attempts by outcome (renewed, conflict, failed)', labelNames: ['outcome'], registers });
  const renewRetries = new Counter({ name: 'pgvigil_lease_renewal_retries_total', help: 'Lease renewals sent again soon after one failed, before the next scheduled renewal (each is also an attempt above)', registers });
  const actions = new Counter({ name: 'pgvigil_agent_actions_total', help: 'Action requests answered, by action and outcome', labelNames: ['action', 'outcome'], registers });
  const watchdogArmed = ctx.config.watchdog ? new Gauge({ name: 'pgvigil_watchdog_armed', help: "1 while the watchdog process is armed (PostgreSQL here serves as primary): it stops PostgreSQL if the agent stops feeding it", registers }) : null;
  const watchdogEvents = ctx.config.watchdog ? new Counter({ name: 'pgvigil_watchdog_events_total', help: 'What the watchdog process reported: armed, disarmed, fired (it stopped PostgreSQL), fire-failed, device-opened, device-unavailable, device-closed', labelNames: ['event'], registers }) : null;
  const wakes = ctx.config.store ? new Counter({ name: 'pgvigil_agent_wakes_total', help: 'Wakes of the probe this agent wrote (landed in the store), by the kind of the first thing its check saw', labelNames: ['reason_kind'], registers }) : null;
  const watchChecks = ctx.config.store ? new Counter({ name: 'pgvigil_agent_watch_checks_total', help: "The watch's checks by outcome: ok (nothing looked wrong) or failed (a wake was due or paced)", labelNames: ['outcome'], registers }) : null;
  const watchOk = ctx.config.store ? new Gauge({ name: 'pgvigil_agent_watch_last_check_ok', help: "1 when the watch's last check found nothing wrong, 0 when it failed (and before the first check)", registers }) : null;
  const durations = new Histogram({ name: 'pgvigil_agent_action_duration_seconds', help: 'How long an action took to answer, by action and outcome', labelNames: ['action', 'outcome'], buckets: ACTION_BUCKETS, registers });

  // At 0 from the start: increase() in an alert cannot see the first step of a series that appears with the value 1.
  for (const outcome of ['renewed', 'conflict', 'failed']) renewals.inc({ outcome }, 0);
  for (const event of ['armed', 'disarmed', 'fired', 'fire-failed']) watchdogEvents?.inc({ event }, 0);
  watchdogArmed?.set(0);
  for (const kind of WAKE_KINDS) wakes?.inc({ reason_kind: kind }, 0);
  for (const outcome of ['ok', 'failed']) watchChecks?.inc({ outcome }, 0);
  const startedAt = performance.now();
  let lastRenewedAt: number | null = null;

  const refresh = async () => {
    const [state, marker] = await Promise.all([readServerState(ctx.pg, SCRAPE_SQL_TIMEOUT_MS), ctx.fence.get()]);
    const current = !state.running ? 'stopped' : !state.answering ? 'unknown' : state.inRecovery ? 'standby' : 'primary';
    for (const r of ROLES) role.set({ role: r }, r === current ? 1 : 0);
    fenced.set(marker ? 1 : 0);
    term.set(ctx.terms.current);
    for (const g of [timeline, wal, replayLagBytes, replayLagSeconds, replicationBytes, replicationSeconds]) g.reset();
    if (state.timeline !== null) timeline.set(state.timeline);
    if (current === 'primary') {
      if (state.walLsn) wal.set({ position: 'write' }, lsnBytes(state.walLsn));
      const r = await ctx.pg.sql<{ name: string; bytes: number | null; seconds: number | null }>(REPLICATION_SQL, [], SCRAPE_SQL_TIMEOUT_MS);
      for (const row of r.ok ? r.rows : []) {
        if (row.bytes !== null) replicationBytes.set({ standby: row.name }, Math.max(0, row.bytes));
        if (row.seconds !== null) replicationSeconds.set({ standby: row.name }, row.seconds);
      }
    } else if (current === 'standby') {
      if (state.receiveLsn) wal.set({ position: 'receive' }, lsnBytes(state.receiveLsn));
      if (state.replayLsn) wal.set({ position: 'replay' }, lsnBytes(state.replayLsn));
      if (state.receiveLsn && state.replayLsn) replayLagBytes.set(Math.max(0, lsnDiff(state.receiveLsn, state.replayLsn)));
      const r = await ctx.pg.sql<{ seconds: number | null }>(REPLAY_DELAY_SQL, [], SCRAPE_SQL_TIMEOUT_MS);
      const seconds = r.ok ? r.rows[0]?.seconds : null;
      if (seconds !== null && seconds !== undefined) replayLagSeconds.set(Math.max(0, seconds));
    }
    leaseAge?.set((performance.now() - (lastRenewedAt ?? startedAt)) / 1000);
  };

  const render = async () => {
    await refresh();
    return registry.metrics();
  };

  return {
    registry,
    lease: {
      renewed(sentAt) {
        lastRenewedAt = Math.max(lastRenewedAt ?? sentAt, sentAt);
        renewals.inc({ outcome: 'renewed' });
      },
      conflict: () => renewals.inc({ outcome: 'conflict' }),
      failed: () => renewals.inc({ outcome: 'failed' }),
      retried: () => renewRetries.inc(),
    },
    watchdog: {
      event(name) {
        watchdogEvents?.inc({ event: name });
        if (name === 'armed') watchdogArmed?.set(1);
        else if (name === 'disarmed' || name === 'fired' || name === 'fire-failed') watchdogArmed?.set(0);
      },
    },
    watch: {
      checked(ok) {
        watchChecks?.inc({ outcome: ok ? 'ok' : 'failed' });
        watchOk?.set(ok ? 1 : 0);
      },
      woke: (kind) => wakes?.inc({ reason_kind: kind }),
    },
    answered(action, outcome, seconds) {
      actions.inc({ action, outcome });
      durations.observe({ action, outcome }, seconds);
    },
    async route(req) {
      if (req.path !== '/metrics' || req.method === 'OPTIONS') return null;
      return { status: 200, contentType: registry.contentType, body: await render() };
    },
    render,
  };
}

/** The outcome label of an answered action request: its HTTP status and the answer's `ok`. */
export function actionOutcome(status: number, ok: unknown): ActionOutcome {
  if (status === 200) return ok === true ? 'ok' : 'failed';
  if (status === 409) return 'stale_term';
  if (status >= 500) return 'error';
  return 'bad_request';
}

/** An LSN as a byte position (exact below 2^53, i.e. for the first 8 PiB of WAL). */
function lsnBytes(lsn: string): number {
  return Number(lsnToBigInt(lsn));
}
