import { z } from 'zod';

/**
 * An agent's clock against the control plane's, measured on one answer as NTP does (issue 13
 * item 5): the agent says when the request arrived and when it answered, by its clock, and the
 * caller knows when it sent and received, by its own. `skewMs` > 0: the agent's clock is ahead.
 * `uncertaintyMs` is half the round trip spent outside the agent: the true skew is within that.
 */
export const AgentClock = z.object({
  skewMs: z.number().int(),
  uncertaintyMs: z.number().int().min(0),
  /** The skew the agent allows a signed request (its maxSkewMs): beyond it, it refuses every one. */
  maxSkewMs: z.number().int().min(1),
});
export type AgentClock = z.infer<typeof AgentClock>;

/** Skew and round-trip uncertainty from the four times: sent and received by the caller's clock, arrived and answered by the agent's. */
export function measureSkew(sentAt: number, arrivedAt: number, answeredAt: number, receivedAt: number): { skewMs: number; uncertaintyMs: number } {
  const skewMs = Math.round((arrivedAt - sentAt + (answeredAt - receivedAt)) / 2);
  const outside = Math.max(0, receivedAt - sentAt - Math.max(0, answeredAt - arrivedAt));
  return { skewMs, uncertaintyMs: Math.ceil(outside / 2) };
}

/** Certainly beyond what the agent allows, whatever the round trip hid. */
export const skewBeyond = (c: AgentClock): boolean => Math.abs(c.skewMs) - c.uncertaintyMs > c.maxSkewMs;
/** Certainly within it. Between the two nothing is concluded. */
export const skewWithin = (c: AgentClock): boolean => Math.abs(c.skewMs) + c.uncertaintyMs <= c.maxSkewMs;

/** "60.0 s ahead of" / "1.2 s behind" the control plane's clock. */
export function describeSkew(c: AgentClock): string {
  const s = (Math.abs(c.skewMs) / 1000).toFixed(1);
  return `${s} s ${c.skewMs >= 0 ? 'ahead of' : 'behind'} the control plane's (±${c.uncertaintyMs} ms)`;
}
