import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Headers a signed request carries. */
export const TIMESTAMP_HEADER = 'x-pgvigil-timestamp';
export const NONCE_HEADER = 'x-pgvigil-nonce';
export const SIGNATURE_HEADER = 'x-pgvigil-signature';
/** The agent the request is meant for, as `<cluster>/<node>`: signed, and checked against the agent's own config. */
export const TARGET_HEADER = 'x-pgvigil-target';

/**
 * Every answer to a POST carries the agent's clock (issue 13 item 5): when the request arrived
 * and when it was answered (ms since epoch, by the agent's clock), and the skew it allows. The
 * caller measures the skew from them as NTP does, so a clock that makes every request 401 is
 * seen with its figure, not only as refusals.
 */
export const AGENT_RECEIVED_HEADER = 'x-pgvigil-agent-received';
export const AGENT_ANSWERED_HEADER = 'x-pgvigil-agent-answered';
export const AGENT_MAX_SKEW_HEADER = 'x-pgvigil-agent-max-skew';

/** The agent a request is signed for: the cluster and node of its config. */
export interface SignedTarget {
  cluster: string;
  node: string;
}

export interface SignedParts extends SignedTarget {
  method: string;
  path: string;
  body: string;
  /** ms since epoch, by the signer's clock. */
  timestamp: number;
  nonce: string;
}

/**
 * The signed string: every part on its own line, the body by its SHA-256, so no part
 * can be shifted into another (a path, cluster or node can't contain a newline; the body
 * is hashed). v2 names the target cluster and node, so a request captured on its way to
 * one agent is refused by every other; a v1 signature (no target) never verifies.
 */
export function canonicalString(p: SignedParts): string {
  const bodyHash = createHash('sha256').update(p.body, 'utf8').digest('hex');
  return ['pgvigil-v2', p.method.toUpperCase(), p.path, String(p.timestamp), p.nonce, p.cluster, p.node, bodyHash].join('\n');
}

export function signature(key: Buffer, p: SignedParts): string {
  return createHmac('sha256', key).update(canonicalString(p), 'utf8').digest('hex');
}

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

/** The headers for one request to `target`, signed now. */
export function signRequest(
  key: Buffer,
  target: SignedTarget,
  method: string,
  path: string,
  body: string,
  now = Date.now(),
): Record<string, string> {
  const nonce = newNonce();
  return {
    [TIMESTAMP_HEADER]: String(now),
    [NONCE_HEADER]: nonce,
    [TARGET_HEADER]: `${target.cluster}/${target.node}`,
    [SIGNATURE_HEADER]: signature(key, { method, path, body, timestamp: now, nonce, ...target }),
  };
}

/**
 * The keys an agent accepts: its node's key, or during a rotation the new key and the previous
 * one, so the control plane can switch to the new key while agents still holding both keep
 * answering; no request is refused in between. The control plane signs with one key only, the
 * target node's current one (agentClient.ts, SigningKey).
 */
export type AgentKeys = Buffer | readonly Buffer[];
const keysOf = (keys: AgentKeys): readonly Buffer[] => (Buffer.isBuffer(keys) ? [keys] : keys);

/** `keyMismatch`: well-formed, but signed with none of the keys given (the agent may read its key source again, agentKeyRing.ts). */
export type Verdict = { ok: true; nonce: string; timestamp: number } | { ok: false; reason: string; keyMismatch?: true };

const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;
/** Cluster and node names are NodeNames (lib/domain/spec.ts): no `/`, no newline. */
const TARGET_PATTERN = /^([a-z][a-z0-9-]{0,30})\/([a-z][a-z0-9-]{0,30})$/;

/**
 * Checks the signature, the target and the clock skew. The HMAC is checked over the target
 * the request names, and only then is that target compared with `self`: an unsigned caller
 * learns nothing, a signed one learns which agent it reached. Replay is checked apart
 * (ReplayCache), and only after this passes, so unsigned traffic can't fill the nonce cache.
 */
export function verifyRequest(
  keys: AgentKeys,
  self: SignedTarget,
  req: { method: string; path: string; body: string; headers: Record<string, string | string[] | undefined> },
  maxSkewMs: number,
  now = Date.now(),
): Verdict {
  const ts = single(req.headers[TIMESTAMP_HEADER]);
  const nonce = single(req.headers[NONCE_HEADER]);
  const target = single(req.headers[TARGET_HEADER]);
  const sig = single(req.headers[SIGNATURE_HEADER]);
  if (ts === undefined || nonce === undefined || target === undefined || sig === undefined) {
    return { ok: false, reason: `unsigned: send ${TIMESTAMP_HEADER}, ${NONCE_HEADER}, ${TARGET_HEADER} and ${SIGNATURE_HEADER} (a v2 signature naming the target cluster and node)` };
  }
  if (!/^\d{1,16}$/.test(ts)) return { ok: false, reason: `bad ${TIMESTAMP_HEADER}: ms since epoch expected` };
  if (!NONCE_PATTERN.test(nonce)) return { ok: false, reason: `bad ${NONCE_HEADER}: 16-128 letters, digits, _ or -` };
  const named = TARGET_PATTERN.exec(target);
  if (!named) return { ok: false, reason: `bad ${TARGET_HEADER}: <cluster>/<node> expected` };
  if (!SIGNATURE_PATTERN.test(sig)) return { ok: false, reason: `bad ${SIGNATURE_HEADER}: 64 hex digits expected` };
  const timestamp = Number(ts);
  const claimed = { cluster: named[1]!, node: named[2]! };
  const given = Buffer.from(sig, 'hex');
  const signedWith = (key: Buffer) => {
    const expected = Buffer.from(signature(key, { method: req.method, path: req.path, body: req.body, timestamp, nonce, ...claimed }), 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  if (!keysOf(keys).some(signedWith)) {
    return { ok: false, reason: 'bad signature: the request was not signed with this node\'s agent key (each node has its own)', keyMismatch: true };
  }
  if (claimed.cluster !== self.cluster || claimed.node !== self.node) {
    return {
      ok: false,
      reason: `wrong target: signed for node ${claimed.node} of cluster ${claimed.cluster}, but this agent is node ${self.node} of cluster ${self.cluster}`,
    };
  }
  const skew = now - timestamp;
  if (skew > maxSkewMs) return { ok: false, reason: `expired: signed ${skew} ms ago, more than the allowed ${maxSkewMs} ms skew` };
  if (-skew > maxSkewMs) return { ok: false, reason: `from the future: signed ${-skew} ms ahead of this host's clock, more than the allowed ${maxSkewMs} ms skew` };
  return { ok: true, nonce, timestamp };
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? undefined : v;
}
