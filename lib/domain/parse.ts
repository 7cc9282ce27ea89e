import { z } from 'zod';

/** The outcome of parsing input at a boundary: a value, or one message naming the field. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Parse with a zod schema; on failure return one message naming the first bad field and the fix. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, what: string): Parsed<z.infer<S>> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  if (!issue) return { ok: false, reason: `${what}: invalid` };
  // A bad whole value (a --name, a URL) is named by `what` alone; a field inside it by its path.
  if (issue.path.length === 0) return { ok: false, reason: `${what}: ${issue.message}` };
  return { ok: false, reason: `${what}: ${issue.path.join('.')}: ${issue.message}` };
}
