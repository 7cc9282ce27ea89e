/**
 * What runs beside PostgreSQL on a node's host in the simulated cluster, apart from the agent's
 * actions: the host's own clock, the watchdog the agent feeds, and the constants the agent runs
 * by. Pure: the world passes its time in.
 */
import { leaseRenewEveryMs, leaseTtlFor, standbyLeaseRenewEveryMs } from '../../../lib/agent/lease.ts';

export { leaseRenewEveryMs, leaseTtlFor, standbyLeaseRenewEveryMs };

/**
 * A host's clock against the world's: wall time off by `offsetMs` (NTP keeps it within the
 * agent's maxSkewMs, or the agent refuses every signed request), and running at `1 + rate`
 * (the kernel slews an NTP-disciplined clock by at most 500 ppm). The agent times its lease and
 * its watchdog on its monotonic clock, which runs at the same rate; the offset cancels there.
 */
export interface HostClock {
  offsetMs: number;
  rate: number;
}

/** The host's clock reading at world time `now` (ms since epoch, by that host). */
export const hostNow = (c: HostClock, now: number, t0: number): number => t0 + (now - t0) * (1 + c.rate) + c.offsetMs;

/** The agent's maxSkewMs (lib/agent/agentConfig.ts default): a request signed further off is refused, and the replay cache forgets it. */
export const MAX_SKEW_MS = 5_000;

/**
 * The watchdog's stated bound: PostgreSQL is stopped at most this long past one lease TTL after
 * the agent's last feed, by the host's clock (its check period and `pg_ctl stop -m immediate`).
 */
export const WATCHDOG_MARGIN_MS = 250;

/** How often an agent reads the decision log (members, synchronous_standby_names): at most every 5 s. */
export const LOG_READ_MS = 5_000;
