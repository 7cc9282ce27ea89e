import type { ProbeErrorKind } from '../domain/observation.ts';

export interface ProbeError {
  kind: ProbeErrorKind;
  message: string;
}

/** Raised by the prober's own deadline, never by pg. */
export class ProbeDeadline extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

const REFUSED_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
// A server that is starting up or shutting down answers but serves nothing: treat it like a refusal.
const DOWN_SQLSTATES = new Set(['57P01', '57P02', '57P03']);

export function classifyProbeError(e: unknown): ProbeError {
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' ? err.code : '';
  const message = typeof err?.message === 'string' && err.message ? err.message : String(e);
  if (e instanceof ProbeDeadline) return { kind: 'timeout', message };
  if (REFUSED_CODES.has(code) || DOWN_SQLSTATES.has(code)) return { kind: 'refused', message };
  if (TIMEOUT_CODES.has(code) || code === '57014') return { kind: 'timeout', message };
  // SQLSTATE class 28: invalid authorization (bad password, no pg_hba.conf entry).
  if (code.startsWith('28')) return { kind: 'auth', message };
  if (/terminated unexpectedly|Connection terminated/i.test(message)) return { kind: 'refused', message };
  if (/timeout/i.test(message)) return { kind: 'timeout', message };
  return { kind: 'other', message };
}
