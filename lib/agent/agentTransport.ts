import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** One POST's answer: status, headers, body, and when the headers came in (the caller's clock). */
export interface PostAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** When the answer's headers arrived: the round trip the skew is measured over ends here, not after the body. */
  headersAt: number;
  text: string;
}

export interface PostOptions {
  timeoutMs: number;
  clock: () => number;
  /**
   * The cluster CA's certificate (PEM) an https agent's certificate must chain to, and name the
   * URL's host (the bootstrap issues each host's certificate for its address). Absent: the
   * system's trust store, which knows no cluster CA, so the call fails: a caller that does not
   * trust the CA cannot talk to the agent.
   */
  ca?: string;
}

/**
 * A POST over http or https (node:https: global fetch takes no CA of its own without undici's
 * dispatcher, which this project does not ship). Rejects on any network or TLS failure, and
 * with a TimeoutError when the whole exchange, connect to last byte, takes over `timeoutMs`.
 */
export function postOnce(url: URL, headers: Record<string, string>, body: string, o: PostOptions): Promise<PostAnswer> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const options = { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, ...(secure && o.ca !== undefined ? { ca: o.ca } : {}) };
    const req = secure ? httpsRequest(url, options) : httpRequest(url, options);
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${o.timeoutMs} ms`), { name: 'TimeoutError' })), o.timeoutMs);
    req.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.once('response', (res) => {
      const headersAt = o.clock();
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      res.once('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, headersAt, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end(body);
  });
}

const CERT_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|DEPTH_ZERO|UNABLE_TO_GET_ISSUER/;

/** A network or TLS failure in a few words: the code, and for a certificate what it means here. */
export function describeFailure(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; code?: string; message?: string };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  if (err.code && CERT_ERRORS.test(err.code)) return `${err.code}: the agent's certificate is not one the cluster CA this caller trusts issued for that address`;
  if (err.code === 'EPROTO' || /wrong version number|packet length too long/.test(err.message ?? '')) return `${err.code ?? 'TLS'}: no TLS there (an agent listening on plain HTTP?)`;
  return err.code ?? err.message ?? String(e);
}
