import { z } from 'zod';
import { measureSkew, type AgentClock } from '../domain/clockSkew.ts';
import { parseWith } from '../domain/parse.ts';
import { answers, type AgentAction, type AnswerOf, type RequestOf } from './actions/wire.ts';
import type { IncomingHttpHeaders } from 'node:http';
import { AGENT_ANSWERED_HEADER, AGENT_MAX_SKEW_HEADER, AGENT_RECEIVED_HEADER, signRequest, type SignedTarget } from './signing.ts';
import { describeFailure, postOnce, type PostAnswer } from './agentTransport.ts';

/** The agent a call is for: where it listens, and the cluster and node its config names (both signed). */
export interface AgentTarget {
  url: string;
  cluster: string;
  node: string;
  /** The cluster CA's certificate (PEM) an https agent's certificate must chain to (agentTransport.ts). */
  ca?: string;
}

/** The agent of a spec node: its URL, the cluster and node the signature names, and the CA its certificate chains to. */
export function agentTargetOf(cluster: string, node: { name: string; agent: string }, ca?: string): AgentTarget {
  return { url: node.agent, cluster, node: node.name, ...(ca !== undefined ? { ca } : {}) };
}

/**
 * What a caller signs with: each node has its own key (issue 15), so a key source answers the
 * target node's current key (a rotation's new key once its source holds it). A Buffer is one key
 * for whatever is called (a test, or a lab whose agents share one).
 */
export type SigningKey = Buffer | ((target: SignedTarget) => Promise<Buffer>);

export interface CallAgentOptions {
  /** The whole call, connect to last byte. Short: a silent host must not stall the caller. */
  timeoutMs?: number;
  /** The caller's clock (ms since epoch): it signs the request and measures the agent's clock against it. */
  clock?: () => number;
}

const DEFAULT_TIMEOUT_MS = 2_000;

/**
 * Calls one agent action, signed. Never throws: an agent that can't be reached or answers
 * nonsense becomes `{ ok: false, reason: 'agent unreachable: …' }`, and a success whose facts
 * don't match the action's answer schema (`wire.ts`) becomes `{ ok: false, reason: 'agent
 * answered … : <field>: …' }`, so no malformed fact reaches the decision log. Each call is
 * signed afresh (its own timestamp and nonce) for `target`'s cluster and node: another agent
 * refuses it, and so does this one after a restart, so a retry must be a new call.
 */
export async function callAgent<A extends AgentAction>(
  target: AgentTarget,
  key: SigningKey,
  action: A,
  body: RequestOf<A>,
  opts: CallAgentOptions = {},
): Promise<AnswerOf<A>> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const baseUrl = target.url;
  let url: URL;
  try {
    url = new URL(`v1/actions/${encodeURIComponent(action)}`, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  } catch {
    return { ok: false, reason: `agent unreachable: bad agent URL ${JSON.stringify(baseUrl)}` };
  }
  const text = JSON.stringify(body);
  const clock = opts.clock ?? Date.now;
  let signingKey: Buffer;
  try {
    signingKey = Buffer.isBuffer(key) ? key : await key({ cluster: target.cluster, node: target.node });
  } catch (e) {
    return { ok: false, reason: `no agent key for ${target.cluster}/${target.node}: ${(e as Error).message}` };
  }
  const sentAt = clock();
  const headers = { 'content-type': 'application/json', ...signRequest(signingKey, target, 'POST', url.pathname, text, sentAt) };
  let res: PostAnswer;
  try {
    res = await postOnce(url, headers, text, { timeoutMs, clock, ...(target.ca !== undefined ? { ca: target.ca } : {}) });
  } catch (e) {
    return { ok: false, reason: `agent unreachable: ${url.origin}: ${describeFailure(e, timeoutMs)}` };
  }
  const answer = res.text;
  const measured = agentClockOf(res.headers, sentAt, res.headersAt);
  const seen = { httpStatus: res.status, ...measured };
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer);
  } catch {
    return { ok: false, reason: `agent unreachable: ${url.origin} answered HTTP ${res.status} with non-JSON`, ...seen };
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { ok?: unknown }).ok !== 'boolean') {
    return { ok: false, reason: `agent unreachable: ${url.origin} answered HTTP ${res.status} without an ok field`, ...seen };
  }
  // The clock is what this call measured, never what the body claims.
  const { agentClock: _claimed, agentClockUnread: _claimedUnread, ...result } = parsed as Record<string, unknown>;
  const reason = typeof result['reason'] === 'string' ? result['reason'] : `HTTP ${res.status}`;
  if (result['ok'] !== true) return { ...result, ok: false, reason, ...seen };
  const facts = parseWith(answers[action], result, `agent answered ${action} from ${url.origin} with a malformed answer (it said ok: ${reason})`);
  if (!facts.ok) return { ok: false, reason: facts.reason, ...seen };
  // The facts are those of A's schema; TypeScript can't follow a generic key into a spread.
  return { ...(facts.value as Record<string, unknown>), ok: true, reason, ...seen } as AnswerOf<A>;
}

type ClockRead = { agentClock: AgentClock } | { agentClockUnread: string } | Record<string, never>;

const msHeader = (name: string) => z.string({ error: `${name} missing` }).regex(/^\d{1,16}$/, `${name}: ms since epoch expected`).transform(Number);
const ClockHeaders = z.object({
  [AGENT_RECEIVED_HEADER]: msHeader(AGENT_RECEIVED_HEADER),
  [AGENT_ANSWERED_HEADER]: msHeader(AGENT_ANSWERED_HEADER),
  [AGENT_MAX_SKEW_HEADER]: msHeader(AGENT_MAX_SKEW_HEADER),
});

/** The agent's clock from its answer's headers (signing.ts), against the caller's send and receive times. None sent (an older agent): nothing. */
function agentClockOf(headers: IncomingHttpHeaders, sentAt: number, receivedAt: number): ClockRead {
  const raw = Object.fromEntries([AGENT_RECEIVED_HEADER, AGENT_ANSWERED_HEADER, AGENT_MAX_SKEW_HEADER].flatMap((h) => (headers[h] !== undefined ? [[h, headers[h]]] : [])));
  if (Object.keys(raw).length === 0) return {};
  const read = parseWith(ClockHeaders, raw, "the agent's clock headers");
  if (!read.ok) return { agentClockUnread: read.reason };
  const v = read.value;
  const m = measureSkew(sentAt, v[AGENT_RECEIVED_HEADER], v[AGENT_ANSWERED_HEADER], receivedAt);
  return { agentClock: { ...m, maxSkewMs: Math.max(1, v[AGENT_MAX_SKEW_HEADER]) } };
}
