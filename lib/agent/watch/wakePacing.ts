/**
 * How often a failing watch may wake the probe. The first failing check wakes it at once (speed
 * is the point: the probe decides); while the checks keep failing, at most every 2 s, so the
 * probe sees a fault that is still there; once they have failed for more than a minute, at
 * most every 5 minutes, since the probe's own run each minute already watches a lasting fault.
 * A passing check ends the episode. Times are the agent's monotonic clock (performance.now()):
 * they space this agent's own writes and are never read by anyone else.
 */
export const WAKE_EVERY_MS = 2_000;
export const LASTING_AFTER_MS = 60_000;
export const LASTING_WAKE_EVERY_MS = 5 * 60_000;

/** One run of failing checks: when the first failed, and when a wake last landed in it. */
export interface FailingEpisode {
  since: number;
  /** null until a wake of this episode has landed (a put the store refused does not count). */
  lastWakeAt: number | null;
}

/** Whether a failing check at `now` should write a wake. */
export function wakeDue(episode: FailingEpisode, now: number): boolean {
  if (episode.lastWakeAt === null) return true;
  const every = now - episode.since > LASTING_AFTER_MS ? LASTING_WAKE_EVERY_MS : WAKE_EVERY_MS;
  return now - episode.lastWakeAt >= every;
}
