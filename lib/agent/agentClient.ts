import { z } from 'zod';
import { measureSkew, type AgentClock } from '../domain/clockSkew.ts';
import { parseWith } from '../domain/parse.ts';
import { answers, type AgentAction, type AnswerOf, type RequestOf } from './actions/wire.ts';
import { AGENT_ANSWERED_HEADER, AGENT_MAX_SKEW_HEADER, AGENT_RECEIVED_HEADER, signRequest } from './signing.ts';

/** The agent a call is for: where it listens, and the cluster and node its config names (both signed). */
export interface AgentTarget {
  url: string;
  cluster: string;
  node: string;
}

/** The agent of a spec node: its URL, and the cluster and node the signature names. */
export function agentTargetOf(cluster: string, node: { name: string; agent: string }): AgentTarget {
  return { url: node.agent, cluster, node: node.name };
}

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
  key: Buffer,
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
  const sentAt = clock();
  const headers = { 'content-type': 'application/json', ...signRequest(key, target, 'POST', url.pathname, text, sentAt) };
  let res: Response;
  let answer: string;
  let measured: ClockRead;
  try {
    res = await fetch(url, { method: 'POST', headers, body: text, signal: AbortSignal.timeout(timeoutMs) });
    // The headers are out once the agent answered: the round trip ends here, not after the body.
    measured = agentClockOf(res.headers, sentAt, clock());
    answer = await res.text();
  } catch (e) {
    return { ok: false, reason: `agent unreachable: ${url.origin}: ${describe(e, timeoutMs)}` };
  }
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
function agentClockOf(headers: Headers, sentAt: number, receivedAt: number): ClockRead {
  const raw = Object.fromEntries([AGENT_RECEIVED_HEADER, AGENT_ANSWERED_HEADER, AGENT_MAX_SKEW_HEADER].flatMap((h) => (headers.has(h) ? [[h, headers.get(h)]] : [])));
  if (Object.keys(raw).length === 0) return {};
  const read = parseWith(ClockHeaders, raw, "the agent's clock headers");
  if (!read.ok) return { agentClockUnread: read.reason };
  const v = read.value;
  const m = measureSkew(sentAt, v[AGENT_RECEIVED_HEADER], v[AGENT_ANSWERED_HEADER], receivedAt);
  return { agentClock: { ...m, maxSkewMs: Math.max(1, v[AGENT_MAX_SKEW_HEADER]) } };
}

function describe(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}
