import { lsnToBigInt } from '../domain/lsn.ts';

/** A WAL segment's file name: timeline, then the segment's log and number (16 MB segments). */
const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.partial)?$/;
const HISTORY = /^[0-9A-F]{8}\.history$/;

export const isWalArchiveName = (name: string): boolean => SEGMENT.test(name) || HISTORY.test(name) || /^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$/.test(name);
export const isHistoryFile = (name: string): boolean => HISTORY.test(name);

/** The segment file holding `lsn` on `timeline`, for the default 16 MB segment size. */
export function walFileFor(timeline: number, lsn: string): string {
  const v = lsnToBigInt(lsn);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(v >> 32n)}${hex((v & 0xffffffffn) >> 24n)}`;
}

/**
 * The archived files a restore from a backup starting in `startFile` can need: every
 * timeline history file, and every segment (any timeline) at or after the start's position.
 * A `.partial` segment is never needed by recovery: the next timeline holds its content.
 */
export function neededForRestore(names: readonly string[], startFile: string): string[] {
  const startPos = startFile.slice(8, 24);
  return names.filter((n) => {
    if (HISTORY.test(n)) return true;
    const m = SEGMENT.exec(n);
    return m !== null && m[4] === undefined && `${m[2]}${m[3]}` >= startPos;
  });
}
