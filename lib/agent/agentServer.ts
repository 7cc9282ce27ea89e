import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { agentListener, isEncrypted, type AgentListener, type AgentTls } from './agentListener.ts';
import { performance } from 'node:perf_hooks';
import { parseWith } from '../domain/parse.ts';
import type { ActionLock } from './actionLock.ts';
import { actionTable } from './actions/actionTable.ts';
import { publicRequestOf, type PublicAnswer, type PublicRoute } from './publicRoutes.ts';
import type { ActionContext } from './actions/actionTypes.ts';
import { ReplayCache } from './replayCache.ts';
import { AGENT_ANSWERED_HEADER, AGENT_MAX_SKEW_HEADER, AGENT_RECEIVED_HEADER, verifyRequest, type AgentKeys } from './signing.ts';
import { fixedKeyRing, type AgentKeyRing } from './agentKeyRing.ts';

const MAX_BODY_BYTES = 64 * 1024;
/** The whole body must arrive within this of its headers: a slow sender is cut off (408) before authentication. */
export const BODY_DEADLINE_MS = 5_000;
/** Headers must arrive within this; the whole request within REQUEST_TIMEOUT_MS (Node's own 408, a backstop). */
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** A request answered before its body was read: how long its client gets to read the answer before the socket goes. */
const LINGER_MS = 500;
const ACTION_PATH = /^\/v1\/actions\/([^/]{1,64})$/;

export interface AgentServerDeps {
  ctx: ActionContext;
  /** This node's key, or its new and previous keys during a rotation; a ring reads them again when a signature matches neither. */
  key: AgentKeys | AgentKeyRing;
  lock: ActionLock;
  /** Unauthenticated read-only routes (health, metrics), asked in order for GET/HEAD/OPTIONS. */
  publicRoutes?: readonly PublicRoute[];
  /** Told of every answered request that named an action (metrics): its HTTP status, the answer's `ok`, seconds taken. */
  onAnswered?: (action: string, status: number, ok: unknown, seconds: number) => void;
  /** Serve HTTPS with this certificate (the cluster CA's), and take actions over TLS only (agentListener.ts). */
  tls?: AgentTls;
}

type Reply = { status: number; body: Record<string, unknown> };

/**
 * The agent's HTTP face: `POST /v1/actions/<action>` with a signed JSON body. Checks in
 * this order: path, size and read time (before authentication, so nobody unsigned holds a
 * socket or memory for long), signature, target (this cluster and node) and clock skew,
 * replay (and nothing signed before this server started), action name, JSON, schema, term;
 * only then does the action run, under the lock. Refusals are logged with their reason,
 * never with the key or signature.
 */
export function createAgentServer(deps: AgentServerDeps): Server | AgentListener {
  const { ctx, lock } = deps;
  const ring = isKeyRing(deps.key) ? deps.key : fixedKeyRing(deps.key);
  const self = { cluster: ctx.config.cluster, node: ctx.config.node };
  const replay = new ReplayCache(ctx.config.maxSkewMs);

  async function handle(req: IncomingMessage): Promise<Reply & { action?: string; term?: number }> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'POST') return refuse(405, `use POST /v1/actions/<action>, not ${req.method}`);
    // Before the body is read: a signed request in clear text could be read on its way (issue 15).
    if (deps.tls && !isEncrypted(req)) return refuse(401, 'unencrypted: this agent takes actions over HTTPS only (its certificate is issued by the cluster CA): call https://, not http://');
    const match = ACTION_PATH.exec(path);
    if (!match || match[1] === undefined) return refuse(404, `no such path ${path}: use POST /v1/actions/<action>`);
    let name: string;
    try {
      name = decodeURIComponent(match[1]);
    } catch {
      return refuse(400, `malformed %-escape in the path ${path}: use POST /v1/actions/<action>`);
    }
    const read = await readBody(req);
    if (!read.ok) return refuse(read.status, read.reason);
    const body = read.text;

    const signed = { method: req.method, path, body, headers: req.headers };
    let verdict = verifyRequest(ring.keys(), self, signed, ctx.config.maxSkewMs);
    // A key rotated at the source since it was read: read it again (rate-limited) and check once more.
    if (!verdict.ok && verdict.keyMismatch && (await ring.reload())) verdict = verifyRequest(ring.keys(), self, signed, ctx.config.maxSkewMs);
    if (!verdict.ok) return refuse(401, verdict.reason);
    const fresh = replay.admit(verdict.nonce, verdict.timestamp);
    if (!fresh.ok) return refuse(401, fresh.reason);
    // Acted on only once signed here too: a later run of this agent (which refuses anything
    // signed before it started) then can't be handed this request again.
    await waitUntilSigned(verdict.timestamp);

    const def = Object.hasOwn(actionTable, name) ? actionTable[name] : undefined;
    if (!def) return refuse(400, `unknown action "${name}": use one of ${Object.keys(actionTable).join(', ')}`);
    let json: unknown;
    try {
      json = body === '' ? {} : JSON.parse(body);
    } catch (e) {
      return refuse(400, `malformed JSON: ${(e as Error).message}`);
    }
    const parsed = parseWith(def.schema, json, `${name} request`);
    if (!parsed.ok) return refuse(400, parsed.reason);
    const input = parsed.value as { term?: number };
    const term = def.term === 'none' ? undefined : input.term;

    // status reads only: it must answer even while a long rewind holds the lock.
    if (def.term === 'none') return { status: 200, body: await def.run(ctx, input), action: name };
    return lock.run(async () => {
      if (term !== undefined) {
        // Persisted before acting: after a crash the agent still refuses anything older.
        const check = await ctx.terms.admit(term);
        if (!check.ok) return { status: 409, body: { ok: false, reason: check.reason, currentTerm: check.currentTerm }, action: name, term };
      }
      return { status: 200, body: await def.run(ctx, input), action: name, ...(term !== undefined ? { term } : {}) };
    });
  }

  async function handlePublic(req: IncomingMessage): Promise<PublicAnswer | null> {
    const pub = publicRequestOf(req);
    if (!pub) return null;
    for (const route of deps.publicRoutes ?? []) {
      const answer = await route(pub);
      if (answer) return answer;
    }
    return null;
  }

  const server = agentListener((req, res) => {
    const started = performance.now();
    // This host's clock as the request arrived: the caller measures the skew from it (signing.ts).
    const receivedAt = Date.now();
    if (req.method !== 'POST') {
      // Health checks arrive every second or two: answered without a log line each.
      handlePublic(req)
        .catch((e: unknown): PublicAnswer => {
          ctx.log({ level: 'error', msg: 'public route threw', path: req.url, error: (e as Error).stack ?? String(e) });
          return { status: 500, contentType: 'application/json', body: JSON.stringify({ ok: false, reason: `agent error: ${(e as Error).message}` }) };
        })
        .then((answer) => {
          if (answer) {
            res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': Buffer.byteLength(answer.body) });
            res.end(req.method === 'HEAD' ? undefined : answer.body);
            return;
          }
          send(req, res, refuse(405, `use POST /v1/actions/<action>, not ${req.method} ${(req.url ?? '/').split('?')[0]}`), { receivedAt, maxSkewMs: ctx.config.maxSkewMs });
        });
      return;
    }
    handle(req)
      .catch((e: unknown): Reply => {
        ctx.log({ level: 'error', msg: 'action threw', error: (e as Error).stack ?? String(e) });
        return { status: 500, body: { ok: false, reason: `agent error: ${(e as Error).message}` } };
      })
      .then((reply) => {
        const ms = Math.round(performance.now() - started);
        const entry = {
          path: req.url,
          status: reply.status,
          ok: reply.body['ok'],
          reason: reply.body['reason'],
          ms,
          remote: req.socket.remoteAddress,
          ...('action' in reply && reply.action ? { action: reply.action } : {}),
          ...('term' in reply && reply.term !== undefined ? { term: reply.term } : {}),
        };
        if (reply.status === 401 || reply.status === 409) ctx.log({ level: 'warn', msg: 'refused', ...entry });
        else if (reply.status >= 400) ctx.log({ level: 'warn', msg: 'bad request', ...entry });
        else ctx.log({ level: 'info', msg: 'action', ...entry });
        if ('action' in reply && reply.action) deps.onAnswered?.(reply.action, reply.status, reply.body['ok'], (performance.now() - started) / 1000);
        send(req, res, reply, { receivedAt, maxSkewMs: ctx.config.maxSkewMs });
      });
  }, deps.tls, { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS });
  return server;
}

function isKeyRing(k: AgentKeys | AgentKeyRing): k is AgentKeyRing {
  return !Buffer.isBuffer(k) && !Array.isArray(k);
}

function refuse(status: number, reason: string): Reply {
  return { status, body: { ok: false, reason } };
}

/**
 * Answers, with this host's clock (when the request arrived, when it is answered) and the skew
 * it allows on every answer, a refusal for skew most of all. A request whose body was not read
 * to its end (too large, too slow, refused by path) is answered with `connection: close`, and
 * its socket destroyed LINGER_MS after the answer is out: Node would otherwise read and discard
 * the rest of the body for as long as it comes.
 */
function send(req: IncomingMessage, res: ServerResponse, reply: Reply, clock: { receivedAt: number; maxSkewMs: number }): void {
  const text = JSON.stringify(reply.body);
  const unread = !req.complete;
  res.writeHead(reply.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    [AGENT_RECEIVED_HEADER]: String(clock.receivedAt),
    [AGENT_ANSWERED_HEADER]: String(Date.now()),
    [AGENT_MAX_SKEW_HEADER]: String(clock.maxSkewMs),
    ...(unread ? { connection: 'close' } : {}),
  });
  res.end(text);
  if (!unread) return;
  const socket = req.socket;
  res.once('finish', () => {
    const linger = setTimeout(() => socket.destroy(), LINGER_MS);
    linger.unref();
    socket.once('close', () => clearTimeout(linger));
  });
}

type BodyRead = { ok: true; text: string } | { ok: false; status: 400 | 408 | 413; reason: string };

/**
 * The body as text, read for at most BODY_DEADLINE_MS and MAX_BODY_BYTES. Reading stops at
 * either bound (nothing more is buffered, and `send` closes the connection); a declared
 * content-length over the bound is refused before a byte is read.
 */
function readBody(req: IncomingMessage): Promise<BodyRead> {
  const tooLarge: BodyRead = { ok: false, status: 413, reason: `body larger than ${MAX_BODY_BYTES} bytes` };
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (r: BodyRead) => {
      clearTimeout(deadline);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (!r.ok) req.pause();
      resolve(r);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) finish(tooLarge);
      else chunks.push(c);
    };
    const onEnd = () => finish({ ok: true, text: Buffer.concat(chunks).toString('utf8') });
    const onError = (e: Error) => finish({ ok: false, status: 400, reason: `request aborted while its body was read: ${e.message}` });
    const deadline = setTimeout(
      () => finish({ ok: false, status: 408, reason: `body not received within ${BODY_DEADLINE_MS} ms (${size} bytes so far): send the whole request at once` }),
      BODY_DEADLINE_MS,
    );
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Waits until this host's clock has reached a request's timestamp (signed ahead of it by at most maxSkewMs). */
async function waitUntilSigned(timestamp: number): Promise<void> {
  const ahead = timestamp - Date.now();
  if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead + 1));
}
