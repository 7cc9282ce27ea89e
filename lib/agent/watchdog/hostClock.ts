import { performance } from 'node:perf_hooks';

/**
 * This host's monotonic clock in ms, the same in every process: libuv reads CLOCK_MONOTONIC
 * for process.hrtime, so the agent and its watchdog process agree on a deadline without any
 * wall clock. (performance.now() counts from each process's own start, so it can't be shared.)
 */
export function hostMonotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000n) / 1_000;
}

/**
 * A performance.now() instant of this process on the host's monotonic clock. Both clocks are
 * CLOCK_MONOTONIC, so their offset is constant; reading hrtime first and performance.now()
 * second makes the offset, and so the deadline, come out early by the microseconds between.
 */
export function perfToHostMonotonic(perfMs: number): number {
  const host = hostMonotonicMs();
  const perf = performance.now();
  return perfMs + (host - perf);
}
