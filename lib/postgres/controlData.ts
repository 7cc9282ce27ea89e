/** The fields of pg_controldata the agent reads. */
export interface ControlData {
  /** "shut down", "shut down in recovery", "in production", "in archive recovery", "in crash recovery", "shutting down"… */
  state: string;
  checkpointLsn: string;
  checkpointTimeline: number;
  minRecoveryEndLsn: string;
  minRecoveryEndTimeline: number;
  systemIdentifier: string;
}

/** Parses `pg_controldata` output (run with LC_ALL=C, so the labels are English). */
export function parseControlData(text: string): ControlData | { error: string } {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) fields.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const get = (k: string) => fields.get(k);
  const state = get('Database cluster state');
  const checkpointLsn = get('Latest checkpoint location');
  const checkpointTimeline = Number(get("Latest checkpoint's TimeLineID"));
  const minRecoveryEndLsn = get('Minimum recovery ending location') ?? '0/0';
  const minRecoveryEndTimeline = Number(get("Min recovery ending loc's timeline") ?? '0');
  const systemIdentifier = get('Database system identifier');
  if (state === undefined || checkpointLsn === undefined || !Number.isInteger(checkpointTimeline) || systemIdentifier === undefined) {
    return { error: 'pg_controldata output lacks the cluster state, checkpoint location or timeline' };
  }
  return { state, checkpointLsn, checkpointTimeline, minRecoveryEndLsn, minRecoveryEndTimeline, systemIdentifier };
}

/** A data directory that was shut down cleanly: safe to restart as anything, and to rewind. */
export function isCleanShutdown(cd: ControlData): boolean {
  return cd.state === 'shut down' || cd.state === 'shut down in recovery';
}
