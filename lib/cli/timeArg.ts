const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export type TimeArg = { ok: true; at: number } | { ok: false; reason: string };

/**
 * An ISO time (2026-11-24T03:12:00Z; a time without zone is UTC) or a relative one
 * (90s, 10m, 2h, 1d): before `now` for `ago` (--since, --until), after it for `ahead` (--at).
 */
export function parseTimeArg(flag: string, value: string, now: number, direction: 'ago' | 'ahead'): TimeArg {
  const v = value.trim();
  const rel = /^\+?(\d+(?:\.\d+)?)\s*([smhd])$/.exec(v);
  if (rel) {
    const ms = Number(rel[1]) * UNIT_MS[rel[2]!]!;
    return { ok: true, at: direction === 'ago' ? now - ms : now + ms };
  }
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(v)) {
    const zoned = /(Z|[+-]\d{2}:?\d{2})$/.test(v) || !/[T ]/.test(v) ? v : `${v}Z`;
    const at = Date.parse(zoned.replace(' ', 'T'));
    if (Number.isFinite(at)) return { ok: true, at };
  }
  const example = direction === 'ago' ? '10m, 2h, 1d' : '+5m, 1h';
  return { ok: false, reason: `${flag} "${value}" is not a time: give an ISO time (e.g. 2026-11-24T03:12:00Z, UTC when no zone) or a relative one (${example})` };
}
