import { z } from 'zod';
import { Lsn } from '../domain/observation.ts';

/**
 * Everything a round needs from one node, in one round trip. `s` evaluates
 * pg_is_in_recovery() once so every column agrees on the role. Functions that fail
 * during recovery (pg_current_wal_lsn, pg_walfile_name) are only reached on a primary.
 */
export const NODE_QUERY = `
WITH s AS MATERIALIZED (SELECT pg_is_in_recovery() AS in_recovery)
SELECT
  s.in_recovery,
  (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
  CASE WHEN NOT s.in_recovery THEN pg_current_wal_lsn()::text END AS wal_lsn,
  -- The timeline a primary writes is in its current WAL file name; the checkpoint's may lag just after a promotion.
  CASE WHEN NOT s.in_recovery THEN pg_walfile_name(pg_current_wal_lsn()) END AS wal_file,
  (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli,
  (SELECT min_recovery_end_timeline FROM pg_control_recovery()) AS min_recovery_tli,
  -- A standby's timeline at its WAL end, from the name of the WAL file holding its last byte
  -- (received, else replayed): the walreceiver names each file for the timeline it streams and a
  -- rewind copies the source's, so it moves as the first WAL of a new timeline is flushed, where
  -- the control file waits for a restartpoint. pg_ls_waldir() needs pg_monitor, the probe's role.
  CASE WHEN s.in_recovery THEN (
    SELECT max(('x' || substr(f.name, 1, 8))::bit(32)::int)
    FROM pg_ls_waldir() f,
         (SELECT floor((greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) - '0/1'::pg_lsn) / z.bytes) AS segno,
                 4294967296 / z.bytes AS per_id
            FROM (SELECT setting::numeric AS bytes FROM pg_settings WHERE name = 'wal_segment_size') z) e
    WHERE f.name ~ '^[0-9A-F]{24}$'
      AND substr(f.name, 9) = lpad(upper(to_hex(floor(e.segno / e.per_id)::bigint)), 8, '0') || lpad(upper(to_hex((e.segno % e.per_id)::bigint)), 8, '0'))
  END AS wal_end_tli,
  CASE WHEN s.in_recovery THEN pg_last_wal_receive_lsn()::text END AS receive_lsn,
  CASE WHEN s.in_recovery THEN pg_last_wal_replay_lsn()::text END AS replay_lsn,
  -- A standby that has replayed all it received is not behind, however long the primary has been idle.
  CASE WHEN s.in_recovery THEN
    CASE WHEN pg_last_wal_receive_lsn() IS NOT NULL AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
         WHEN pg_last_xact_replay_timestamp() IS NULL THEN NULL
         ELSE greatest(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp()))::float8 END
  END AS lag_seconds,
  (SELECT row_to_json(r) FROM (
     SELECT status, sender_host, sender_port, received_tli,
            (extract(epoch FROM last_msg_receipt_time) * 1000)::float8 AS last_msg_ms
     FROM pg_stat_wal_receiver) r) AS wal_receiver,
  (SELECT coalesce(json_agg(r ORDER BY r.application_name), '[]'::json) FROM (
     SELECT application_name, state, sync_state,
            sent_lsn::text AS sent_lsn, flush_lsn::text AS flush_lsn, replay_lsn::text AS replay_lsn
     FROM pg_stat_replication) r) AS replication,
  current_setting('synchronous_standby_names') AS synchronous_standby_names
FROM s`;

/** The row as it comes over the wire: parsed, because a node is an outside input. */
export const NodeRow = z.object({
  in_recovery: z.boolean(),
  system_identifier: z.string(),
  wal_lsn: Lsn.nullable(),
  wal_file: z.string().nullable(),
  checkpoint_tli: z.number().int().nullable(),
  min_recovery_tli: z.number().int().nullable(),
  wal_end_tli: z.number().int().nullable(),
  receive_lsn: Lsn.nullable(),
  replay_lsn: Lsn.nullable(),
  lag_seconds: z.number().nullable(),
  wal_receiver: z
    .object({
      status: z.string(),
      sender_host: z.string().nullable(),
      sender_port: z.number().int().nullable(),
      received_tli: z.number().int().nullable(),
      last_msg_ms: z.number().nullable(),
    })
    .nullable(),
  replication: z.array(
    z.object({
      application_name: z.string(),
      state: z.string(),
      sync_state: z.enum(['async', 'potential', 'sync', 'quorum']),
      sent_lsn: Lsn.nullable(),
      flush_lsn: Lsn.nullable(),
      replay_lsn: Lsn.nullable(),
    }),
  ),
  synchronous_standby_names: z.string(),
});
export type NodeRow = z.infer<typeof NodeRow>;

/**
 * Timeline: a primary's from its WAL file name; a standby's the highest of what it receives, the
 * file holding its WAL end and its control file. Each only ever lags the truth (a timeline does
 * not go down on one node), so the highest is the nearest.
 */
export function timelineOf(row: NodeRow): number | null {
  if (!row.in_recovery && row.wal_file) {
    const tli = Number.parseInt(row.wal_file.slice(0, 8), 16);
    if (Number.isInteger(tli) && tli > 0) return tli;
  }
  const standby = row.in_recovery ? [row.wal_receiver?.received_tli, row.wal_end_tli] : [];
  const known = [...standby, row.checkpoint_tli, row.min_recovery_tli].filter((t): t is number => typeof t === 'number' && t > 0);
  return known.length > 0 ? Math.max(...known) : null;
}
