import net from 'node:net';
import { z } from 'zod';
import { parseWith } from '../domain/parse.ts';
import type { EndpointChange, EndpointDriver, EndpointResult, EndpointTarget } from './driver.ts';
import { ProxyRoutes, parseEndpointChange, targetKey, type ProxyRole } from './proxyRoutes.ts';

/**
 * The local endpoints: a TCP proxy with a writer port (to the current primary) and a
 * reader port (round-robin over the listed standbys, the primary when none is listed).
 * Bytes are piped untouched; the proxy only chooses where a connection goes and cuts
 * the ones whose target lost its role.
 */

const ProxyOptions = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    writerPort: z.number().int().min(0).max(65535),
    readerPort: z.number().int().min(0).max(65535),
    /** A target that does not accept the TCP connection within this time counts as refused. */
    connectTimeoutMs: z.number().int().min(10).default(2_000),
  })
  .strict();
export type ProxyOptions = z.input<typeof ProxyOptions>;

export type ProxyEvent =
  | { event: 'endpoints.applied'; term: number; writer: string | null; readers: string[]; cut: number }
  | { event: 'endpoints.stale'; term: number; currentTerm: number }
  | { event: 'endpoints.upstream_failed'; role: ProxyRole; target: string; reason: string };

export interface ProxyStats {
  term: number;
  /** Open client connections per target node name, by the port they came in on. */
  writer: Record<string, number>;
  reader: Record<string, number>;
}

export interface EndpointProxy extends EndpointDriver {
  readonly addresses: { writer: { host: string; port: number }; reader: { host: string; port: number } };
  stats(): ProxyStats;
}

interface Conn {
  role: ProxyRole;
  key: string;
  name: string;
  client: net.Socket;
  upstream: net.Socket | null;
  piped: boolean;
  done: boolean;
}

/** Shared by every upstream socket: each read is copied out before the next one can land. */
const replyBuffer = Buffer.allocUnsafe(64 * 1024);

/**
 * Writes a chunk on; false when `to` is full, and then `from` resumes once `to` drains.
 * The chunk is copied only if it lives in the shared reply buffer.
 */
function forward(to: net.Socket, from: net.Socket, chunk: Uint8Array): boolean {
  if (to.destroyed) return false;
  const ok = to.write(chunk.buffer === replyBuffer.buffer ? Buffer.from(chunk) : chunk);
  if (!ok) to.once('drain', () => from.resume());
  return ok;
}

export async function startEndpointProxy(
  input: ProxyOptions,
  log: (e: ProxyEvent) => void = () => {},
): Promise<{ ok: true; proxy: EndpointProxy } | { ok: false; reason: string }> {
  const parsed = parseWith(ProxyOptions, input, 'endpoint proxy options');
  if (!parsed.ok) return parsed;
  const opts = parsed.value;
  const routes = new ProxyRoutes();
  const conns = new Set<Conn>();

  function cut(conn: Conn): void {
    if (conn.done) return;
    conn.done = true;
    conns.delete(conn);
    conn.client.destroy();
    conn.upstream?.destroy();
  }

  function tryTarget(conn: Conn, targets: EndpointTarget[], i: number): void {
    const target = targets[i];
    if (conn.done) return;
    if (!target) return cut(conn);
    conn.key = targetKey(target);
    conn.name = target.name;
    const up: net.Socket = net.connect({
      host: target.host,
      port: target.port,
      noDelay: true,
      // Server replies land in one shared buffer (no allocation per read) and are copied out at once.
      onread: { buffer: replyBuffer, callback: (n: number, buf: Uint8Array): boolean => forward(conn.client, up, buf.subarray(0, n)) },
    });
    conn.upstream = up;
    const timer = setTimeout(() => up.destroy(new Error(`no answer within ${opts.connectTimeoutMs} ms`)), opts.connectTimeoutMs);
    up.once('connect', () => {
      clearTimeout(timer);
      if (conn.done) return;
      // The route may have changed while connecting: never hand a client to a target that lost its role.
      if (!routes.keeps(conn.role, conn.key)) return cut(conn);
      conn.piped = true;
      conn.client.on('data', (chunk: Buffer) => {
        if (!forward(up, conn.client, chunk)) conn.client.pause();
      });
      conn.client.on('end', () => up.end());
      up.on('end', () => conn.client.end());
      conn.client.resume();
    });
    up.on('error', (err) => {
      clearTimeout(timer);
      if (conn.done) return;
      if (conn.piped) return cut(conn);
      log({ event: 'endpoints.upstream_failed', role: conn.role, target: conn.key, reason: err.message });
      up.destroy();
      tryTarget(conn, targets, i + 1);
    });
    up.on('close', () => {
      if (conn.piped) cut(conn);
    });
  }

  function accept(role: ProxyRole) {
    return (client: net.Socket): void => {
      const conn: Conn = { role, key: '', name: '', client, upstream: null, piped: false, done: false };
      conns.add(conn);
      client.on('error', () => cut(conn));
      client.on('close', () => cut(conn));
      // Paused on connect (server option): the startup packet waits in the kernel until a target is chosen.
      tryTarget(conn, routes.candidates(role), 0);
    };
  }

  const serverOpts = { pauseOnConnect: true, noDelay: true };
  const writerServer = net.createServer(serverOpts, accept('writer'));
  const readerServer = net.createServer(serverOpts, accept('reader'));

  function listen(server: net.Server, port: number): Promise<{ ok: true; port: number } | { ok: false; reason: string }> {
    return new Promise((resolve) => {
      const onError = (err: Error) => resolve({ ok: false, reason: `cannot listen on ${opts.host}:${port}: ${err.message}` });
      server.once('error', onError);
      server.listen(port, opts.host, () => {
        server.off('error', onError);
        resolve({ ok: true, port: (server.address() as net.AddressInfo).port });
      });
    });
  }
  function closeServer(server: net.Server): Promise<void> {
    return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  }

  const w = await listen(writerServer, opts.writerPort);
  const r = await listen(readerServer, opts.readerPort);
  if (!w.ok || !r.ok) {
    await Promise.all([closeServer(writerServer), closeServer(readerServer)]);
    return { ok: false, reason: (!w.ok ? w.reason : !r.ok ? r.reason : '') };
  }

  const proxy: EndpointProxy = {
    kind: 'proxy',
    addresses: { writer: { host: opts.host, port: w.port }, reader: { host: opts.host, port: r.port } },

    async apply(input: EndpointChange): Promise<EndpointResult> {
      const change = parseEndpointChange(input);
      if (!change.ok) return change;
      const { term, writer, readers } = change.value;
      if (!routes.apply(change.value)) {
        log({ event: 'endpoints.stale', term, currentTerm: routes.currentTerm });
        return { ok: true, applied: false };
      }
      let cutCount = 0;
      for (const conn of [...conns]) {
        // Includes connections still connecting upstream: their target lost its role too.
        if (conn.key !== '' && !routes.keeps(conn.role, conn.key)) {
          cut(conn);
          cutCount++;
        }
      }
      log({ event: 'endpoints.applied', term, writer: writer ? targetKey(writer) : null, readers: readers.map(targetKey), cut: cutCount });
      return { ok: true, applied: true };
    },

    stats(): ProxyStats {
      const out: ProxyStats = { term: routes.currentTerm, writer: {}, reader: {} };
      for (const conn of conns) {
        if (!conn.piped) continue;
        const bucket = out[conn.role];
        bucket[conn.name] = (bucket[conn.name] ?? 0) + 1;
      }
      return out;
    },

    async close(): Promise<void> {
      const closing = Promise.all([closeServer(writerServer), closeServer(readerServer)]);
      for (const conn of [...conns]) cut(conn);
      await closing;
    },
  };
  return { ok: true, proxy };
}
