import { compareLsn, LSN_PATTERN } from '../domain/lsn.ts';

/** One line of a timeline history file: timeline `tli` ended (forked) at `switchpoint`. */
export interface HistoryEntry {
  tli: number;
  switchpoint: string;
}

/** Parses `0000000N.history` ("1\t0/3000148\tno recovery target specified"). */
export function parseHistory(text: string): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const [tli, lsn] = t.split(/\s+/);
    if (tli === undefined || lsn === undefined || !/^\d+$/.test(tli) || !LSN_PATTERN.test(lsn)) continue;
    out.push({ tli: Number(tli), switchpoint: lsn });
  }
  return out;
}

export type FollowVerdict = { ok: true } | { ok: false; detail: string };

/**
 * Can a node whose WAL reaches `localEnd` on timeline `localTli` stream from a primary on
 * `primaryTli` with this history? Only if the local timeline is an ancestor of the primary's
 * and the local WAL does not go past the point where the primary's history left it.
 */
export function canFollow(local: { tli: number; end: string }, primaryTli: number, history: HistoryEntry[]): FollowVerdict {
  if (local.tli === primaryTli) return { ok: true };
  if (local.tli > primaryTli) return { ok: false, detail: `this node is on timeline ${local.tli}, ahead of the primary's ${primaryTli}` };
  const fork = history.find((h) => h.tli === local.tli);
  if (!fork) return { ok: false, detail: `timeline ${local.tli} is not in the primary's history` };
  if (compareLsn(local.end, fork.switchpoint) > 0) {
    return { ok: false, detail: `this node's WAL on timeline ${local.tli} reaches ${local.end}, past the primary's switch point ${fork.switchpoint}` };
  }
  return { ok: true };
}

/**
 * The timeline a standby's WAL up to `end` is on, from its newest history file: recovery
 * follows the newest timeline it knows, so past every switch point listed there the WAL is on
 * that timeline; before one, on the timeline that switch left. The control file (`fromControl`)
 * lags until a restartpoint after a switch; never answer less than it says.
 */
export function timelineOfWal(fromControl: number, newest: { tli: number; history: HistoryEntry[] } | null, end: string): number {
  if (newest === null || newest.tli <= fromControl) return fromControl;
  const before = newest.history.find((h) => compareLsn(end, h.switchpoint) <= 0);
  return Math.max(fromControl, before ? before.tli : newest.tli);
}

export const HISTORY_FILE = /^([0-9A-F]{8})\.history$/;
