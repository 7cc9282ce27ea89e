import { parseWith } from '../domain/parse.ts';
import { answers, type AgentAction, type AnswerOf, type RequestOf } from './actions/wire.ts';
import { signRequest } from './signing.ts';

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
  const headers = { 'content-type': 'application/json', ...signRequest(key, target, 'POST', url.pathname, text) };
  let res: Response;
  let answer: string;
  try {
    res = await fetch(url, { method: 'POST', headers, body: text, signal: AbortSignal.timeout(timeoutMs) });
    answer = await res.text();
  } catch (e) {
    return { ok: false, reason: `agent unreachable: ${url.origin}: ${describe(e, timeoutMs)}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer);
  } catch {
    return { ok: false, reason: `agent unreachable: ${url.origin} answered HTTP ${res.status} with non-JSON`, httpStatus: res.status };
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { ok?: unknown }).ok !== 'boolean') {
    return { ok: false, reason: `agent unreachable: ${url.origin} answered HTTP ${res.status} without an ok field`, httpStatus: res.status };
  }
  const result = parsed as Record<string, unknown>;
  const reason = typeof result['reason'] === 'string' ? result['reason'] : `HTTP ${res.status}`;
  if (result['ok'] !== true) return { ...result, ok: false, reason, httpStatus: res.status };
  const facts = parseWith(answers[action], result, `agent answered ${action} from ${url.origin} with a malformed answer (it said ok: ${reason})`);
  if (!facts.ok) return { ok: false, reason: facts.reason, httpStatus: res.status };
  // The facts are those of A's schema; TypeScript can't follow a generic key into a spread.
  return { ...(facts.value as Record<string, unknown>), ok: true, reason, httpStatus: res.status } as AnswerOf<A>;
}

function describe(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}
