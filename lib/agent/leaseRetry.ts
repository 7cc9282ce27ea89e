/**
 * How the lease loop (lease.ts) bounds and retries one renewal. A primary renews every TTL / 2,
 * so a TTL leaves room for one scheduled renewal past the one that landed, plus the slack
 * `ttlMs − renewEveryMs` (1.5 s at the default TTL): a renewal that fails is sent again within
 * that slack, after a short backoff, instead of at the next scheduled renewal (which would be
 * the lapse itself). Each request gets a third of the slack, so a hung one leaves the rest to
 * its retries; neither changes when the agent stops a primary (one TTL after the last renewal
 * it *sent* that landed), only how likely a store hiccup is to get there.
 */
export interface RenewTiming {
  ttlMs: number;
  /** The primary's cadence (the agent's configured lease.renewEveryMs). */
  renewEveryMs: number;
}

/** The time a TTL leaves past one scheduled renewal: what a failed renewal's retries must fit in. */
export function renewSlackMs(t: RenewTiming): number {
  return Math.max(0, t.ttlMs - t.renewEveryMs);
}

/**
 * How long one renewal request may take before it counts as failed and is aborted: a third of
 * the slack (500 ms at the default TTL; DynamoDB answers a PutItem in milliseconds), at least
 * 50 ms and at most 1 s. The store client's own timeouts (5 s a request, lib/store/store.ts)
 * would let one hung request eat the whole slack.
 */
export function renewAttemptTimeoutMs(t: RenewTiming): number {
  return Math.min(1_000, Math.max(50, Math.floor(renewSlackMs(t) / 3)));
}

/**
 * The wait before the `retry`th retry (1, 2, …) of a renewal that failed: 100 ms, doubling, at
 * most a quarter of the slack (375 ms at the default TTL), so several fit before the lapse
 * without hammering a store that refuses at once.
 */
export function renewRetryDelayMs(retry: number, t: RenewTiming): number {
  const cap = Math.max(10, Math.floor(renewSlackMs(t) / 4));
  return Math.min(cap, 100 * 2 ** Math.max(0, retry - 1));
}
