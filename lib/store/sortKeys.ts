/**
 * Sort keys of the one table. The prefix says the item kind; numbers are zero-padded so
 * string order is numeric order, which lets one Query read a kind in sequence or time order.
 */
export const SEQ_DIGITS = 12;
export const AT_DIGITS = 13;
export const MAX_SEQ = 10 ** SEQ_DIGITS - 1;

const pad = (n: number, digits: number): string => String(n).padStart(digits, '0');

export function isValidSeq(seq: number): boolean {
  return Number.isInteger(seq) && seq >= 1 && seq <= MAX_SEQ;
}

export const DECISION_PREFIX = 'D#';
export const decisionKey = (seq: number): string => `${DECISION_PREFIX}${pad(seq, SEQ_DIGITS)}`;

/** The sequence number a decision key names, or null when the key is not a decision key. */
export function seqOfDecisionKey(sk: string): number | null {
  const m = /^D#(\d{12})$/.exec(sk);
  return m && m[1] !== undefined ? Number(m[1]) : null;
}

export const SNAPSHOT_PREFIX = 'S#';
export const snapshotKey = (seq: number): string => `${SNAPSHOT_PREFIX}${pad(seq, SEQ_DIGITS)}`;

export const OBSERVATION_PREFIX = 'O#';

/** Observation times must fit the 13-digit key: ms since epoch, up to the year 2286. */
export function isValidAt(at: number): boolean {
  return Number.isFinite(at) && at >= 0 && at < 10 ** AT_DIGITS;
}

export const observationKey = (at: number, node: string, prober: string): string =>
  `${OBSERVATION_PREFIX}${pad(Math.floor(at), AT_DIGITS)}#${node}#${prober}`;

/**
 * Bounds for `sk BETWEEN lo AND hi` covering observations with fromMs <= at <= toMs.
 * The upper bound ends in '$', which sorts just after the '#' that follows the time.
 */
export function observationRange(fromMs: number, toMs: number): { lo: string; hi: string } {
  const from = Math.max(0, Math.floor(fromMs));
  const to = Math.min(10 ** AT_DIGITS - 1, Math.floor(toMs));
  return { lo: `${OBSERVATION_PREFIX}${pad(from, AT_DIGITS)}`, hi: `${OBSERVATION_PREFIX}${pad(to, AT_DIGITS)}$` };
}

export const LEASE_PREFIX = 'L#';
export const leaseKey = (node: string): string => `${LEASE_PREFIX}${node}`;

/** A node's agent asking the probe to look now (lib/store/wakes.ts): one item per node, in its lease partition. */
export const WAKE_PREFIX = 'W#';
export const wakeKey = (node: string): string => `${WAKE_PREFIX}${node}`;
