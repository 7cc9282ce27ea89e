import { LSN_PATTERN } from './lsn.ts';

/**
 * An agent's answer is outside data: its detail is kept in the log as sent, but a value the
 * decider acts on is taken only when it has the right shape. A shutdown checkpoint that is not
 * an LSN is ignored (as if none was reported), with a note saying so, rather than carried
 * into a promote intent that no later load of the log could read.
 */
export type ShutdownCheckpoint = { lsn: string; ignored: null } | { lsn: null; ignored: string | null };

export function shutdownCheckpoint(detail: Readonly<Record<string, unknown>>): ShutdownCheckpoint {
  const value = detail['checkpointLsn'];
  if (value === undefined || value === null) return { lsn: null, ignored: null };
  if (typeof value === 'string' && LSN_PATTERN.test(value)) return { lsn: value, ignored: null };
  return { lsn: null, ignored: `the reported checkpointLsn ${JSON.stringify(value) ?? String(value)} is not an LSN and is ignored` };
}

/** The WAL position an answer reports (promote: read after the promotion; fence: just before the stop); anything else counts as unknown. */
export function reportedWalLsn(detail: Readonly<Record<string, unknown>>): string | null {
  const value = detail['walLsn'];
  return typeof value === 'string' && LSN_PATTERN.test(value) ? value : null;
}
