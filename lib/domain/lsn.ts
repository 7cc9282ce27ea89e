/**
 * PostgreSQL LSNs ("16/B374D848") as bigints, so they compare and subtract exactly.
 * Pure: the domain never asks the server to compare them.
 */
export const LSN_PATTERN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

export function lsnToBigInt(lsn: string): bigint {
  const [hi, lo] = lsn.split('/');
  if (hi === undefined || lo === undefined || !LSN_PATTERN.test(lsn)) throw new Error(`not an LSN: ${lsn}`);
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

export function bigIntToLsn(value: bigint): string {
  const hi = (value >> 32n).toString(16).toUpperCase();
  const lo = (value & 0xffffffffn).toString(16).toUpperCase();
  return `${hi}/${lo}`;
}

export function compareLsn(a: string, b: string): number {
  const d = lsnToBigInt(a) - lsnToBigInt(b);
  return d === 0n ? 0 : d > 0n ? 1 : -1;
}

/** Bytes from `behind` to `ahead`, never negative. */
export function lsnDiff(ahead: string, behind: string): number {
  const d = lsnToBigInt(ahead) - lsnToBigInt(behind);
  return d > 0n ? Number(d) : 0;
}

export function maxLsn(lsns: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const l of lsns) if (best === undefined || compareLsn(l, best) > 0) best = l;
  return best;
}
