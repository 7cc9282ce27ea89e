import { z } from 'zod';

/**
 * What the agent tells its watchdog process over the watchdog socket, one JSON object a line.
 * `until` is on the host's monotonic clock (hostClock.ts): the instant up to which the agent's
 * lease rule lets PostgreSQL serve as primary.
 */
export const ToWatchdog = z.discriminatedUnion('t', [
  /** Arm (if disarmed) and move the deadline to `until` (never back while armed). */
  z.object({ t: z.literal('feed'), until: z.number().finite(), term: z.number().int().min(0) }).strict(),
  z.object({ t: z.literal('disarm'), why: z.string().min(1) }).strict(),
  /** The agent stops cleanly: disarm and end the watchdog process. */
  z.object({ t: z.literal('exit'), why: z.string().min(1) }).strict(),
  z.object({ t: z.literal('status') }).strict(),
]);
export type ToWatchdog = z.infer<typeof ToWatchdog>;

export const WatchdogEventName = z.enum(['armed', 'disarmed', 'fired', 'fire-failed', 'device-opened', 'device-unavailable', 'device-closed']);
export type WatchdogEventName = z.infer<typeof WatchdogEventName>;

/** What the watchdog process tells every connected client. */
export const FromWatchdog = z.discriminatedUnion('t', [
  z.object({ t: z.literal('event'), event: WatchdogEventName, msg: z.string(), why: z.string().optional() }).strict(),
  z
    .object({
      t: z.literal('status'),
      armed: z.boolean(),
      /** ms from now to the deadline while armed (negative: past it); null when disarmed. */
      untilInMs: z.number().nullable(),
      fired: z.number().int().min(0),
      device: z.enum(['none', 'open', 'closed', 'unavailable']),
      pid: z.number().int(),
    })
    .strict(),
]);
export type FromWatchdog = z.infer<typeof FromWatchdog>;

/** Splits a stream into lines and hands each parsed one on; a bad line is reported, not thrown. */
export function lineReader<T>(schema: z.ZodType<T>, onMessage: (m: T) => void, onBad: (why: string) => void): (chunk: Buffer | string) => void {
  let buffered = '';
  return (chunk) => {
    buffered += chunk.toString();
    // A peer that never sends a newline must not grow this without bound.
    if (buffered.length > 64 * 1024) {
      onBad('a line longer than 64 KiB');
      buffered = '';
      return;
    }
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim() === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        onBad('a line that is not JSON');
        continue;
      }
      const r = schema.safeParse(json);
      if (r.success) onMessage(r.data);
      else onBad(r.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '));
    }
  };
}
