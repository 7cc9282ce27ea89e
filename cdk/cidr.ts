/** IPv4 arithmetic for the demo address plan (no lookups: everything is known at synth). */
function toInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

function fromInt(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export function cidrContains(cidr: string, ip: string): boolean {
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(toInt(base!) / size) * size;
  const addr = toInt(ip);
  return addr >= start && addr < start + size;
}

/** The nth address of a block, e.g. hostInCidr('10.42.3.0/24', 10) = 10.42.3.10. */
export function hostInCidr(cidr: string, n: number): string {
  const [base] = cidr.split('/');
  return fromInt(toInt(base!) + n);
}
