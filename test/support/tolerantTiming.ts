/**
 * Probe timing for e2e tests on a busy shared machine: a probe may take 1.5 s before it
 * counts as failed. The order of rule 7 still holds: window 2000 < lease TTL 3000 < fence wait 4500 ms.
 */
export const TOLERANT_TIMING = { probeIntervalMs: 500, failureThreshold: 4, probeTimeoutMs: 1_500 };
