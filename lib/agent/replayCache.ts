/**
 * Nonces seen within the skew window. A request is accepted only within ±maxSkew of its
 * timestamp, so a nonce need be remembered only until timestamp + maxSkew: after that the
 * timestamp check refuses the replay on its own.
 */
export class ReplayCache {
  private readonly seen = new Map<string, number>();
  constructor(private readonly maxSkewMs: number) {}

  /** Records the nonce; false when it was already seen (a replay). */
  admit(nonce: string, timestamp: number, now = Date.now()): boolean {
    this.prune(now);
    if (this.seen.has(nonce)) return false;
    this.seen.set(nonce, timestamp + this.maxSkewMs);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }

  private prune(now: number): void {
    for (const [nonce, forgetAt] of this.seen) if (forgetAt < now) this.seen.delete(nonce);
  }
}
