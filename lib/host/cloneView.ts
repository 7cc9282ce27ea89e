import { z } from 'zod';
import { CLONE_SOURCE_MAX_LAG_BYTES, type ClonePeerSeen, type CloneView } from '../domain/cloneSource.ts';
import type { ProbeLogin } from '../probe/probeLogin.ts';
import { monitorClient } from './peerRole.ts';

const ReplicaRow = z.object({
  name: z.string(),
  state: z.string(),
  sync_state: z.string(),
  // bigint arrives as text from node-postgres.
  lag: z.string().regex(/^-?\d+$/).nullable(),
});
const SettingRow = z.object({ names: z.string() });

/**
 * What the primary says of its standbys, for chooseCloneSource: pg_stat_replication (readable
 * whole by pg_monitor) and synchronous_standby_names, asked as the monitoring role over TLS.
 * A primary that stops answering meanwhile gives an empty list: the copy is then from the primary,
 * whose own answer decides whether the copy works at all.
 */
export async function readCloneView(primary: { name: string; host: string; port: number }, peers: ClonePeerSeen[], login: ProbeLogin, timeoutMs = 3_000): Promise<CloneView> {
  const client = monitorClient(primary, login, timeoutMs);
  const view: CloneView = { primary: primary.name, peers, replicas: [], synchronousStandbyNames: '', maxLagBytes: CLONE_SOURCE_MAX_LAG_BYTES };
  try {
    await client.connect();
    const rows = await client.query(
      `SELECT application_name AS name, state, sync_state,
              pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag
       FROM pg_stat_replication`,
    );
    const setting = SettingRow.parse((await client.query("SELECT current_setting('synchronous_standby_names') AS names")).rows[0]);
    view.synchronousStandbyNames = setting.names;
    view.replicas = z.array(ReplicaRow).parse(rows.rows).map((r) => ({ name: r.name, state: r.state, syncState: r.sync_state, replayLagBytes: r.lag === null ? null : Number(r.lag) }));
  } catch {
    view.replicas = [];
  } finally {
    void client.end().catch(() => {});
  }
  return view;
}
