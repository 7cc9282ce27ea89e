import { signRequest } from './signing.ts';

/** What every agent answer looks like; actions add their own fields. */
export type AgentResult = { ok: boolean; reason: string; httpStatus?: number } & Record<string, unknown>;

export interface CallAgentOptions {
  /** The whole call, connect to last byte. Short: a silent host must not stall the caller. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 2_000;

/**
 * Calls one agent action, signed. Never throws: an agent that can't be reached or answers
 * nonsense becomes `{ ok: false, reason: 'agent unreachable: …' }`.
 */
export async function callAgent(
  baseUrl: string,
  key: Buffer,
  action: string,
  body: Record<string, unknown>,
  opts: CallAgentOptions = {},
): Promise<AgentResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let url: URL;
  try {
    url = new URL(`v1/actions/${encodeURIComponent(action)}`, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  } catch {
    return { ok: false, reason: `agent unreachable: bad agent URL ${JSON.stringify(baseUrl)}` };
  }
  const text = JSON.stringify(body);
  const headers = { 'content-type': 'application/json', ...signRequest(key, 'POST', url.pathname, text) };
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
  return { ...result, ok: result['ok'] as boolean, reason, httpStatus: res.status };
}

function describe(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}
