import pg from 'pg';

export interface BackupSightings {
  /** Samples taken. */
  samples: number;
  /** Samples in which pg_stat_replication showed a walsender in state 'backup'. */
  backupRows: number;
  /** Samples in which pg_stat_activity showed a walsender for pg_basebackup. */
  basebackupSenders: number;
}

export interface BackupWatch {
  stop(): Promise<BackupSightings>;
}

const SQL = `SELECT (SELECT count(*) FROM pg_stat_replication WHERE state = 'backup')::int AS backup,
                    (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender' AND application_name = 'pg_basebackup')::int AS senders`;

/**
 * Samples a server, as fast as one connection allows, for base backups it serves: a walsender
 * in state 'backup' or one named pg_basebackup. Run it on the primary and on the source at
 * once: the source's sightings show the sampler would have seen a backup had there been one.
 */
export async function watchBackups(connectionString: string): Promise<BackupWatch> {
  const c = new pg.Client({ connectionString });
  // A server going away mid-test must fail the awaited call, not crash the process.
  c.on('error', () => {});
  await c.connect();
  const seen: BackupSightings = { samples: 0, backupRows: 0, basebackupSenders: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await c.query<{ backup: number; senders: number }>(SQL);
      seen.samples++;
      if (rows[0]!.backup > 0) seen.backupRows++;
      if (rows[0]!.senders > 0) seen.basebackupSenders++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    async stop() {
      running = false;
      try {
        await loop;
      } finally {
        await c.end().catch(() => {});
      }
      return seen;
    },
  };
}
