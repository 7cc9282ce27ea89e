import type { ActionName } from '../domain/events.ts';

/** How long each agent action may take before the reactor calls it failed (it is retried later). */
export const ACTION_TIMEOUT_MS: Record<ActionName, number> = {
  fence: 3_000,
  demote: 30_000,
  promote: 15_000,
  follow: 10_000,
  rewind: 120_000,
  endpoints: 10_000,
  // A start in recovery replays the WAL the standby holds before it answers.
  start: 30_000,
};

/** The demote intent's first step, a checkpoint and an archived segment switch while clients are still served. */
export const CHECKPOINT_TIMEOUT_MS = 40_000;

/**
 * The act function's timeout: the longest intent with room to report its result. A demote is
 * its checkpoint and the demote (70 s), a rewind 120 s; decide's own timeout (DECIDE_TIMEOUT_MS)
 * is shorter than both, which is why decide hands intents on instead of waiting on them.
 */
export const ACT_TIMEOUT_MS = 150_000;

/**
 * How long decide's hand-off of an intent to act holds before another decide run may hand it
 * on again: act's timeout and a margin, so an act that died (or whose event Lambda dropped)
 * is replaced, and one still at work is not doubled.
 */
export const HANDOFF_HOLD_MS = ACT_TIMEOUT_MS + 10_000;

/** decide's timeout on Lambda (cdk/functions.ts): a decide run and a hand-off take well under a second. */
export const DECIDE_TIMEOUT_MS = 60_000;
