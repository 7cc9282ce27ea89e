/**
 * Nonces seen since this cache was made (the agent's start). A request is accepted only within
 * ±maxSkew of its timestamp, so a nonce need be remembered only until timestamp + maxSkew:
 * after that the timestamp check refuses the replay on its own.
 *
 * The cache lives in memory, so it refuses anything signed before it was made: a request an
 * earlier run of the agent may have acted on can't be replayed to this one. That holds only if
 * the earlier run acted on nothing dated after its own end, which is why the server holds a
 * request signed ahead of this host's clock until its timestamp has passed here
 * (`waitUntilSigned` in agentServer.ts). Retries are signed afresh, so a restarted agent
 * refuses only requests signed before it started.
 */
export class ReplayCache {
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly maxSkewMs: number,
    /** ms since epoch: nothing signed before this is admitted. */
    readonly startedAt = Date.now(),
  ) {}

  /** Records the nonce; a refusal when it was already seen (a replay) or signed before the cache was made. */
  admit(nonce: string, timestamp: number, now = Date.now()): { ok: true } | { ok: false; reason: string } {
    if (timestamp < this.startedAt) {
      return {
        ok: false,
        reason: `signed before this agent started: signed at ${timestamp}, started at ${this.startedAt} (ms since epoch); the nonces it saw before are forgotten, so sign the request again`,
      };
    }
    this.prune(now);
    if (this.seen.has(nonce)) return { ok: false, reason: 'replayed: this nonce was already used' };
    this.seen.set(nonce, timestamp + this.maxSkewMs);
    return { ok: true };
  }

  get size(): number {
    return this.seen.size;
  }

  private prune(now: number): void {
    for (const [nonce, forgetAt] of this.seen) if (forgetAt < now) this.seen.delete(nonce);
  }
}
