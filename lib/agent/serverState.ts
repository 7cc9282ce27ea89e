import { compareLsn } from '../domain/lsn.ts';
import type { PgServer } from '../postgres/pgServer.ts';

/** What the running server says about itself, read in one statement. */
export interface ServerState {
  running: boolean;
  /** Running but not answering SQL (starting, frozen, or refusing): then `why` says so. */
  answering: boolean;
  why: string | null;
  inRecovery: boolean | null;
  /** server_version_num, e.g. 150010. */
  versionNum: number | null;
  timeline: number | null;
  /** pg_current_wal_lsn() on a primary; on a standby the further of received and replayed. */
  walLsn: string | null;
  receiveLsn: string | null;
  replayLsn: string | null;
  receiver: { status: string; senderHost: string | null; senderPort: number | null; receivedTli?: number | null } | null;
  primaryConninfo: string | null;
  primarySlotName: string | null;
}

/**
 * The WAL receiver is connected to this host and port. Both count: on hosts every node listens
 * on 5432, so a port alone would match whichever upstream it streams from. sender_host is what
 * the standby's primary_conninfo names, which is the peer's host as the spec gives it.
 */
export function receiverIsFrom(receiver: ServerState['receiver'], upstream: { host: string; port: number }): boolean {
  return receiver !== null && receiver.senderPort === upstream.port && receiver.senderHost !== null && receiver.senderHost.toLowerCase() === upstream.host.toLowerCase();
}

type Row = {
  recovery: boolean;
  version: number;
  wal_lsn: string | null;
  wal_tli: number | null;
  receive_lsn: string | null;
  replay_lsn: string | null;
  checkpoint_tli: number | null;
  min_recovery_tli: number | null;
  status: string | null;
  received_tli: number | null;
  sender_host: string | null;
  sender_port: number | null;
  primary_conninfo: string | null;
  primary_slot_name: string | null;
};

// pg_current_wal_lsn() fails during recovery: the CASEs keep it from being evaluated there.
const STATE_SQL = `
SELECT pg_is_in_recovery() AS recovery,
       current_setting('server_version_num')::int AS version,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS wal_lsn,
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS wal_tli,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli,
       (SELECT min_recovery_end_timeline FROM pg_control_recovery()) AS min_recovery_tli,
       r.status, r.received_tli, r.sender_host, r.sender_port,
       current_setting('primary_conninfo') AS primary_conninfo,
       current_setting('primary_slot_name') AS primary_slot_name
FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver AS r ON true`;

const STOPPED: ServerState = {
  running: false,
  answering: false,
  why: 'not running',
  inRecovery: null,
  versionNum: null,
  timeline: null,
  walLsn: null,
  receiveLsn: null,
  replayLsn: null,
  receiver: null,
  primaryConninfo: null,
  primarySlotName: null,
};

export async function readServerState(pg: PgServer, timeoutMs = 3_000): Promise<ServerState> {
  if ((await pg.postmasterPid()) === null) return STOPPED;
  const r = await pg.sql<Row>(STATE_SQL, [], timeoutMs);
  if (!r.ok) return { ...STOPPED, running: true, why: r.reason };
  const row = r.rows[0];
  if (!row) return { ...STOPPED, running: true, why: 'no row from the state query' };
  const standbyTli = Math.max(row.received_tli ?? 0, row.checkpoint_tli ?? 0, row.min_recovery_tli ?? 0);
  return {
    running: true,
    answering: true,
    why: null,
    inRecovery: row.recovery,
    versionNum: row.version,
    timeline: row.recovery ? standbyTli || null : row.wal_tli,
    walLsn: row.recovery ? furthest(row.receive_lsn, row.replay_lsn) : row.wal_lsn,
    receiveLsn: row.receive_lsn,
    replayLsn: row.replay_lsn,
    receiver: row.status === null ? null : { status: row.status, senderHost: row.sender_host, senderPort: row.sender_port, receivedTli: row.received_tli },
    primaryConninfo: row.primary_conninfo || null,
    primarySlotName: row.primary_slot_name || null,
  };
}

function furthest(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return compareLsn(a, b) >= 0 ? a : b;
}
