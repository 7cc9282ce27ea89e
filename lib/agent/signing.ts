import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Headers a signed request carries. */
export const TIMESTAMP_HEADER = 'x-pgvigil-timestamp';
export const NONCE_HEADER = 'x-pgvigil-nonce';
export const SIGNATURE_HEADER = 'x-pgvigil-signature';

export interface SignedParts {
  method: string;
  path: string;
  body: string;
  /** ms since epoch, by the signer's clock. */
  timestamp: number;
  nonce: string;
}

/**
 * The signed string: every part on its own line, the body by its SHA-256, so no part
 * can be shifted into another (a path can't contain a newline; the body is hashed).
 */
export function canonicalString(p: SignedParts): string {
  const bodyHash = createHash('sha256').update(p.body, 'utf8').digest('hex');
  return ['pgvigil-v1', p.method.toUpperCase(), p.path, String(p.timestamp), p.nonce, bodyHash].join('\n');
}

export function signature(key: Buffer, p: SignedParts): string {
  return createHmac('sha256', key).update(canonicalString(p), 'utf8').digest('hex');
}

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

/** The headers for one request, signed now. */
export function signRequest(key: Buffer, method: string, path: string, body: string, now = Date.now()): Record<string, string> {
  const nonce = newNonce();
  return {
    [TIMESTAMP_HEADER]: String(now),
    [NONCE_HEADER]: nonce,
    [SIGNATURE_HEADER]: signature(key, { method, path, body, timestamp: now, nonce }),
  };
}

export type Verdict = { ok: true; nonce: string; timestamp: number } | { ok: false; reason: string };

const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;

/**
 * Checks the signature and the clock skew. Replay is checked apart (ReplayCache), and
 * only after this passes, so unsigned traffic can't fill the nonce cache.
 */
export function verifyRequest(
  key: Buffer,
  req: { method: string; path: string; body: string; headers: Record<string, string | string[] | undefined> },
  maxSkewMs: number,
  now = Date.now(),
): Verdict {
  const ts = single(req.headers[TIMESTAMP_HEADER]);
  const nonce = single(req.headers[NONCE_HEADER]);
  const sig = single(req.headers[SIGNATURE_HEADER]);
  if (ts === undefined || nonce === undefined || sig === undefined) {
    return { ok: false, reason: `unsigned: send ${TIMESTAMP_HEADER}, ${NONCE_HEADER} and ${SIGNATURE_HEADER}` };
  }
  if (!/^\d{1,16}$/.test(ts)) return { ok: false, reason: `bad ${TIMESTAMP_HEADER}: ms since epoch expected` };
  if (!NONCE_PATTERN.test(nonce)) return { ok: false, reason: `bad ${NONCE_HEADER}: 16-128 letters, digits, _ or -` };
  if (!SIGNATURE_PATTERN.test(sig)) return { ok: false, reason: `bad ${SIGNATURE_HEADER}: 64 hex digits expected` };
  const timestamp = Number(ts);
  const expected = Buffer.from(signature(key, { method: req.method, path: req.path, body: req.body, timestamp, nonce }), 'hex');
  const given = Buffer.from(sig, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad signature: the request was not signed with this agent\'s key' };
  }
  const skew = now - timestamp;
  if (skew > maxSkewMs) return { ok: false, reason: `expired: signed ${skew} ms ago, more than the allowed ${maxSkewMs} ms skew` };
  if (-skew > maxSkewMs) return { ok: false, reason: `from the future: signed ${-skew} ms ahead of this host's clock, more than the allowed ${maxSkewMs} ms skew` };
  return { ok: true, nonce, timestamp };
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? undefined : v;
}
