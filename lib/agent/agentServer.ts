import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseWith } from '../domain/parse.ts';
import type { ActionLock } from './actionLock.ts';
import { actionTable } from './actions/actionTable.ts';
import { publicRequestOf, type PublicAnswer, type PublicRoute } from './publicRoutes.ts';
import type { ActionContext } from './actions/actionTypes.ts';
import { ReplayCache } from './replayCache.ts';
import { verifyRequest } from './signing.ts';

const MAX_BODY_BYTES = 64 * 1024;
const ACTION_PATH = /^\/v1\/actions\/([^/]{1,64})$/;

export interface AgentServerDeps {
  ctx: ActionContext;
  key: Buffer;
  lock: ActionLock;
  /** Unauthenticated read-only routes (health, metrics), asked in order for GET/HEAD/OPTIONS. */
  publicRoutes?: readonly PublicRoute[];
}

type Reply = { status: number; body: Record<string, unknown> };

/**
 * The agent's HTTP face: `POST /v1/actions/<action>` with a signed JSON body. Checks in
 * this order: size, signature and clock skew, replay, action name, JSON, schema, term;
 * only then does the action run, under the lock. Refusals are logged with their reason,
 * never with the key or signature.
 */
export function createAgentServer(deps: AgentServerDeps): Server {
  const { ctx, key, lock } = deps;
  const replay = new ReplayCache(ctx.config.maxSkewMs);

  async function handle(req: IncomingMessage): Promise<Reply & { action?: string; term?: number }> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'POST') return refuse(405, `use POST /v1/actions/<action>, not ${req.method}`);
    const match = ACTION_PATH.exec(path);
    if (!match || match[1] === undefined) return refuse(404, `no such path ${path}: use POST /v1/actions/<action>`);
    const name = decodeURIComponent(match[1]);
    const body = await readBody(req);
    if (body === null) return refuse(413, `body larger than ${MAX_BODY_BYTES} bytes`);

    const verdict = verifyRequest(key, { method: req.method, path, body, headers: req.headers }, ctx.config.maxSkewMs);
    if (!verdict.ok) return refuse(401, verdict.reason);
    if (!replay.admit(verdict.nonce, verdict.timestamp)) return refuse(401, 'replayed: this nonce was already used');

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

  return createServer((req, res) => {
    const started = performance.now();
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
          send(res, refuse(405, `use POST /v1/actions/<action>, not ${req.method} ${(req.url ?? '/').split('?')[0]}`));
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
        send(res, reply);
      });
  });
}

function refuse(status: number, reason: string): Reply {
  return { status, body: { ok: false, reason } };
}

function send(res: ServerResponse, reply: Reply): void {
  const text = JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The body as text, or null when it is too large (the rest is drained, not buffered). */
function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
