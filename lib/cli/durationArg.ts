import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const FORM = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;

/** A duration in milliseconds, from seconds (90) or a number with a unit (500ms, 90s, 2m, 1h). */
export const Duration = z
  .string()
  .trim()
  .regex(FORM, 'give a duration: seconds (90) or a number with a unit (90s, 2m, 1h)')
  .transform((v) => {
    const [, n, unit] = FORM.exec(v)!;
    return Math.round(Number(n) * UNIT_MS[unit ?? 's']!);
  });
