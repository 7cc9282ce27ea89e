import type { ActionLock } from '../actionLock.ts';
import type { ActionContext } from '../actions/actionTypes.ts';
import { readServerState, type ServerState } from '../serverState.ts';
import type { HealthExtras, HealthSnapshot, ReplicationRow } from './nodeHealth.ts';

type ExtrasRow = {
  start_time: string | null;
  paused: boolean | null;
  replayed_ts: string | null;
  latest_end_lsn: string | null;
  sync_names: string;
  sysid: string | null;
  replication: ReplicationRow[] | null;
};

// The Patroni-only fields, in one statement beside readServerState's. Nothing secret: no conninfo.
const EXTRAS_SQL = `
SELECT pg_postmaster_start_time()::text AS start_time,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS paused,
       pg_last_xact_replay_timestamp()::text AS replayed_ts,
       (SELECT latest_end_lsn::text FROM pg_stat_wal_receiver) AS latest_end_lsn,
       current_setting('synchronous_standby_names') AS sync_names,
       (SELECT system_identifier::text FROM pg_control_system()) AS sysid,
       (SELECT json_agg(json_build_object('usename', usename, 'application_name', application_name,
                                          'client_addr', host(client_addr), 'state', state,
                                          'sync_state', sync_state, 'sync_priority', sync_priority)
                        ORDER BY application_name)
        FROM pg_stat_replication) AS replication`;

export interface HealthStateOptions {
  /** A burst of checks within this long costs one read of PostgreSQL. */
  cacheMs?: number;
  /** The deadline of each query: a check must answer before the load balancer's `timeout check`. */
  timeoutMs?: number;
}

interface PgView {
  server: ServerState;
  extras: HealthExtras | null;
  /** The agent's term when it was read: a newer term (an action admitted since) reads again. */
  term: number;
  at: number;
}

/**
 * Snapshots for the health checks. PostgreSQL's side is read at most once per `cacheMs` (two
 * short statements in parallel, whoever asks meanwhile shares the read) and again at once when
 * the agent admits a newer term; the fence marker, the term and the pending actions are read
 * fresh for every answer, so a fence is seen by the next check, whatever the cache holds.
 */
export class HealthState {
  private view: PgView | null = null;
  private reading: Promise<PgView> | null = null;
  private readonly cacheMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly ctx: ActionContext,
    private readonly lock: ActionLock,
    opts: HealthStateOptions = {},
  ) {
    this.cacheMs = opts.cacheMs ?? 300;
    this.timeoutMs = opts.timeoutMs ?? 1_000;
  }

  async snapshot(): Promise<HealthSnapshot> {
    const [pgView, fenced] = await Promise.all([this.pgView(), this.ctx.fence.get()]);
    return {
      cluster: this.ctx.config.cluster,
      node: this.ctx.config.node,
      server: pgView.server,
      extras: pgView.extras,
      fenced,
      term: this.ctx.terms.current,
      pendingActions: this.lock.busy,
    };
  }

  private pgView(): Promise<PgView> {
    const v = this.view;
    if (v && Date.now() - v.at < this.cacheMs && v.term === this.ctx.terms.current) return Promise.resolve(v);
    this.reading ??= this.read().finally(() => (this.reading = null));
    return this.reading;
  }

  private async read(): Promise<PgView> {
    const term = this.ctx.terms.current;
    const [server, extras] = await Promise.all([readServerState(this.ctx.pg, this.timeoutMs), this.readExtras()]);
    const view = { server, extras: server.answering ? extras : null, term, at: Date.now() };
    this.view = view;
    return view;
  }

  private async readExtras(): Promise<HealthExtras | null> {
    if ((await this.ctx.pg.postmasterPid()) === null) return null;
    const r = await this.ctx.pg.sql<ExtrasRow>(EXTRAS_SQL, [], this.timeoutMs);
    const row = r.ok ? r.rows[0] : undefined;
    if (!row) return null;
    return {
      postmasterStartTime: row.start_time,
      replayPaused: row.paused,
      replayedTimestamp: row.replayed_ts,
      latestEndLsn: row.latest_end_lsn,
      synchronousStandbyNames: row.sync_names,
      systemIdentifier: row.sysid,
      replication: row.replication ?? [],
    };
  }
}
