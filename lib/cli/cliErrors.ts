import type { z } from 'zod';
import { parseWith } from '../domain/parse.ts';

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

/** An option value checked by its domain schema: a bad one fails with the schema's message, e.g. "--name Pg1: use 1-31 lowercase letters…". */
export function parseOption<S extends z.ZodType>(flag: string, value: string, schema: S, next: string): z.infer<S> {
  const parsed = parseWith(schema, value, `${flag} ${value}`);
  if (!parsed.ok) fail(parsed.reason, next);
  return parsed.value;
}
