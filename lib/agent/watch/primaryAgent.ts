import { Agent, request } from 'node:http';
import type { Finding } from './findings.ts';

/** Enough of an answer's body for its reason; the rest is read and dropped so the connection stays usable. */
const BODY_LIMIT = 4_096;
const REASON_LIMIT = 120;

/**
 * The plain-HTTP health URL of an agent: its URL's host and port over http, whatever scheme it
 * names. An agent with TLS serves its public routes over plain HTTP on the same port (the
 * listener tells the protocols apart by the first byte: agentListener.ts), so a check needs no
 * certificate and no handshake. An https URL without a port is on 443.
 */
export function healthUrlOf(agentUrl: string, path: string): URL {
  const u = new URL(agentUrl);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const plain = new URL(`http://${u.host}`);
  plain.port = port;
  plain.pathname = path;
  return plain;
}

type Outcome = { status: number; body: string } | { error: NodeJS.ErrnoException; reused: boolean } | { late: true };

/**
 * Asks the primary's agent `/primary` (200 while it serves as the primary of its term, as
 * HAProxy asks it). One kept-alive connection: a check every probe period opens none.
 */
export class PrimaryAgentCheck {
  private readonly http = new Agent({ keepAlive: true, maxSockets: 1 });

  /** Null when the agent answered 200 within `timeoutMs`; else what was seen. */
  async check(primary: { name: string; agent: string }, timeoutMs: number): Promise<Finding | null> {
    const url = healthUrlOf(primary.agent, '/primary');
    const deadline = performance.now() + timeoutMs;
    let got = await this.once(url, timeoutMs);
    // A kept-alive connection the server closed as we reused it: once more on a new one (Node's documented pattern).
    if ('error' in got && got.reused && got.error.code === 'ECONNRESET' && performance.now() < deadline) got = await this.once(url, deadline - performance.now());
    const who = `primary ${primary.name}'s agent`;
    if ('late' in got) return { kind: 'primary_agent_unreachable', what: `${who} did not answer /primary within ${timeoutMs} ms` };
    if ('error' in got) return { kind: 'primary_agent_unreachable', what: `${who} could not be reached (${got.error.code ?? got.error.message})` };
    if (got.status === 200) return null;
    const reason = reasonOf(got.body);
    return { kind: 'primary_not_serving', what: `${who} answered /primary ${got.status}${reason ? ` (${reason})` : ''}` };
  }

  close(): void {
    this.http.destroy();
  }

  private once(url: URL, timeoutMs: number): Promise<Outcome> {
    return new Promise((resolve) => {
      let done = false;
      const settle = (o: Outcome) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(o);
      };
      const req = request(url, { method: 'GET', agent: this.http, headers: { accept: 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < BODY_LIMIT) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => settle({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, BODY_LIMIT) }));
        res.on('error', (e) => settle({ error: e, reused: false }));
      });
      // Past the deadline the socket is dropped: a frozen agent's connection is never reused.
      const timer = setTimeout(() => {
        settle({ late: true });
        req.destroy();
      }, timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) => settle({ error: e, reused: req.reusedSocket }));
      req.end();
    });
  }
}

/** The verdict's reason from a health answer's JSON (pgvigil.reason), if it has one. */
function reasonOf(body: string): string | null {
  try {
    const doc = JSON.parse(body) as { pgvigil?: { reason?: unknown } };
    const r = doc.pgvigil?.reason;
    return typeof r === 'string' && r !== '' ? (r.length <= REASON_LIMIT ? r : `${r.slice(0, REASON_LIMIT - 1)}…`) : null;
  } catch {
    return null;
  }
}
