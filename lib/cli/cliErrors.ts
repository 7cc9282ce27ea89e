/** Print one clear message and what to do next, then exit: 2 for bad input, 1 for failures. */
export function fail(message: string, next: string, code: 1 | 2 = 2): never {
  process.stderr.write(`pgvigil: ${message}\n  next: ${next}\n`);
  process.exit(code);
}

export function parseIntOption(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) fail(`${flag} must be an integer from ${min} to ${max}, got "${value}"`, `pass e.g. ${flag} ${min}`);
  return n;
}
