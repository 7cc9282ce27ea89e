import net from 'node:net';
import { z } from 'zod';
import { parseWith } from '../domain/parse.ts';
import type { EndpointChange, EndpointDriver, EndpointResult, EndpointTarget } from './driver.ts';
import { ServerMessageTracker, asksEncryption, fatalErrorResponse, goingAwayAtStartup, isCancelRequest } from './pgWire.ts';
import { ProxyRoutes, parseEndpointChange, targetKey, type ProxyRole } from './proxyRoutes.ts';

/** The one-byte answer to an encryption request: not here. */
const ENCRYPTION_REFUSED = Buffer.from('N');

/**
 * The local endpoints: a TCP proxy with a writer port (to the current primary) and a
 * reader port (round-robin over the listed standbys, the primary when none is listed).
 * Bytes are piped untouched; the proxy only chooses where a connection goes and cuts
 * the ones whose target lost its role.
 *
 * A new connection with nowhere to go (no writer known, or every target refused it, as
 * while a crashed primary is failed over) is held, its startup packet unread, until the
 * next applied change gives it a target or `holdMs` passes: the client sees a slow
 * connect, not an error. Past the bound it gets a FATAL 57P03, as from a server starting up.
 */

const ProxyOptions = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    writerPort: z.number().int().min(0).max(65535),
    readerPort: z.number().int().min(0).max(65535),
    /** A target that does not accept the TCP connection within this time counts as refused. */
    connectTimeoutMs: z.number().int().min(10).default(2_000),
    /** How long a new connection with no target waits for one (0: refuse at once). */
    holdMs: z.number().int().min(0, 'holdMs is a number of milliseconds, 0 or more').max(300_000).default(10_000),
    /** A switchover's drain: how long open writer sessions may take to finish their transaction before they are cut. */
    drainTimeoutMs: z.number().int().min(0, 'drainTimeoutMs is a number of milliseconds, 0 or more').max(300_000).default(10_000),
  })
  .strict();
export type ProxyOptions = z.input<typeof ProxyOptions>;

export type ProxyEvent =
  | { event: 'endpoints.applied'; term: number; writer: string | null; readers: string[]; cut: number }
  | { event: 'endpoints.stale'; term: number; currentTerm: number }
  | { event: 'endpoints.upstream_failed'; role: ProxyRole; target: string; reason: string }
  | { event: 'endpoints.held'; role: ProxyRole }
  | { event: 'endpoints.hold_expired'; role: ProxyRole; heldMs: number }
  | ({ event: 'endpoints.drained' } & DrainResult)
  | ({ event: 'endpoints.resumed' } & ResumeResult);

/** A switchover's drain of the writer endpoint, before the old primary is stopped. */
export interface DrainResult {
  term: number;
  /** Writer sessions that reached the end of their transaction and were detached from the old primary. */
  drained: number;
  /** Writer sessions still inside a transaction at the drain timeout: cut. */
  cut: number;
  waitedMs: number;
}

/** The end of the pause, once the new writer is applied (or the switchover gave up). */
export interface ResumeResult {
  pausedMs: number;
  /** Drained sessions re-attached to the new writer between transactions. */
  moved: number;
  /** Drained sessions that could not be re-attached (not trust auth, encrypted, or the new writer refused): closed between transactions. */
  closed: number;
  /** New connections that waited during the pause. */
  held: number;
}

export interface ProxyStats {
  term: number;
  /** Open client connections per target node name, by the port they came in on. */
  writer: Record<string, number>;
  reader: Record<string, number>;
  /** New connections waiting for a target, by port. */
  held: { writer: number; reader: number };
  /** Connections since start that were held and then handed to a target, and those refused at the bound. */
  handedOver: number;
  holdExpired: number;
}

export interface EndpointProxy extends EndpointDriver {
  /** Stops handing new transactions to the writer and waits for open sessions to finish theirs. */
  drain(term: number): Promise<DrainResult>;
  /** Ends a pause without a new writer (the switchover gave up): sessions go back to the current one. */
  resume(): ResumeResult | null;
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
  acceptedAt: number;
  /** Set while held: the timer that refuses it at the bound. */
  holdTimer: NodeJS.Timeout | null;
  wasHeld: boolean;
  /**
   * What the client sent before the server said anything (its startup packet). A server that
   * dies before answering has told the client nothing, so these bytes go to the next target.
   */
  unanswered: Buffer[] | null;
  /** The startup packet, kept to re-attach a drained session elsewhere. */
  startup: Buffer | null;
  /** Whether the client sent anything between its startup packet and the first ReadyForQuery (a password): then it can't be re-attached. */
  authTalk: boolean;
  ready: boolean;
  tracker: ServerMessageTracker;
  /** The last ReadyForQuery said idle, and the client has sent nothing since: between transactions. */
  betweenTx: boolean;
  /** Detached from its server during a drain, its next bytes kept here until it is re-attached. */
  parked: Buffer[] | null;
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
  const held = new Set<Conn>();
  let handedOver = 0;
  let holdExpired = 0;
  /** Set from a drain until the resume: writer-port connections are held, sessions parked between transactions. */
  let pause: {
    term: number;
    at: number;
    held: number;
    parked: Set<Conn>;
    drained: number;
    settle: (() => void) | null;
    safety: NodeJS.Timeout;
    /**
     * Set once the drain is over and the old primary is being stopped: from then on new writer
     * connections are held. While draining they still log in to the old primary and are parked
     * at their first ReadyForQuery: a client that connects on the thread its open transactions
     * run on (pgbench -C) must not stall them.
     */
    stopping: boolean;
  } | null = null;

  function cut(conn: Conn): void {
    if (conn.done) return;
    conn.done = true;
    conns.delete(conn);
    unhold(conn);
    conn.client.destroy();
    conn.upstream?.destroy();
    if (pause?.settle && openWriterSessions() === 0) pause.settle();
  }

  function unhold(conn: Conn): void {
    if (conn.holdTimer) clearTimeout(conn.holdTimer);
    conn.holdTimer = null;
    held.delete(conn);
  }

  /** Nowhere to go now: wait for the next applied change, up to holdMs from the connection's arrival. */
  function hold(conn: Conn): void {
    if (conn.done) return;
    const left = conn.acceptedAt + opts.holdMs - performance.now();
    if (left <= 0) return refuse(conn);
    conn.client.pause();
    conn.piped = false;
    conn.key = '';
    conn.name = '';
    conn.upstream = null;
    if (!conn.wasHeld) log({ event: 'endpoints.held', role: conn.role });
    if (!conn.wasHeld && pause && conn.role === 'writer') pause.held++;
    conn.wasHeld = true;
    held.add(conn);
    conn.holdTimer ??= setTimeout(() => refuse(conn), left);
  }

  function refuse(conn: Conn): void {
    if (conn.done) return;
    if (conn.wasHeld) {
      holdExpired++;
      log({ event: 'endpoints.hold_expired', role: conn.role, heldMs: Math.round(performance.now() - conn.acceptedAt) });
    }
    unhold(conn);
    conn.done = true;
    conns.delete(conn);
    conn.upstream?.destroy();
    const what = conn.role === 'writer' ? 'no primary' : 'no reader and no primary';
    // As a server does after a FATAL: the message, then the connection closes.
    conn.client.end(fatalErrorResponse(`pgvigil endpoint: ${what} to connect to within ${opts.holdMs} ms; try again`), () => conn.client.destroy());
  }

  /** After an applied change: every held connection tries the new targets once. */
  function releaseHeld(): void {
    for (const conn of [...held]) {
      held.delete(conn);
      tryTarget(conn, routes.candidates(conn.role), 0);
    }
  }

  /** The upstream went away: a session the server never answered is replayed elsewhere; any other is cut. */
  function upstreamGone(conn: Conn, up: net.Socket): void {
    if (conn.done || conn.upstream !== up) return;
    up.destroy();
    if (conn.unanswered !== null) hold(conn);
    else cut(conn);
  }

  function tryTarget(conn: Conn, targets: EndpointTarget[], i: number): void {
    const target = targets[i];
    if (conn.done) return;
    if (!target || (pause?.stopping && conn.role === 'writer')) return hold(conn);
    conn.key = targetKey(target);
    conn.name = target.name;
    const up: net.Socket = net.connect({
      host: target.host,
      port: target.port,
      noDelay: true,
      // Server replies land in one shared buffer (no allocation per read) and are copied out at once.
      onread: {
        buffer: replyBuffer,
        callback: (n: number, buf: Uint8Array): boolean => {
          if (conn.upstream !== up) return false;
          const chunk = buf.subarray(0, n);
          // A server going away that refuses the startup has told the client nothing it must see:
          // held, and the startup replayed to the next target (a crashed primary's last backends answer so).
          const goingAway = conn.unanswered !== null ? goingAwayAtStartup(chunk) : null;
          if (goingAway !== null) {
            log({ event: 'endpoints.upstream_failed', role: conn.role, target: conn.key, reason: `refused the startup going away (${goingAway})` });
            up.destroy();
            hold(conn);
            return false;
          }
          conn.unanswered = null;
          const ok = forward(conn.client, up, chunk);
          conn.tracker.feed(chunk);
          return ok;
        },
      },
    });
    conn.upstream = up;
    const timer = setTimeout(() => up.destroy(new Error(`no answer within ${opts.connectTimeoutMs} ms`)), opts.connectTimeoutMs);
    up.once('connect', () => {
      clearTimeout(timer);
      if (conn.done || conn.upstream !== up) return;
      // The route may have changed while connecting: never hand a client to a target that lost its role,
      // nor a writer to the old primary once a drain began.
      if (!routes.keeps(conn.role, conn.key) || (pause?.stopping && conn.role === 'writer')) {
        up.destroy();
        return tryTarget(conn, routes.candidates(conn.role), 0);
      }
      conn.piped = true;
      unhold(conn);
      if (conn.wasHeld) handedOver++;
      for (const chunk of conn.unanswered ?? []) up.write(chunk);
      up.on('end', () => {
        if (conn.upstream === up && conn.unanswered === null) conn.client.end();
      });
      conn.client.resume();
    });
    up.on('error', (err) => {
      clearTimeout(timer);
      if (conn.done || conn.upstream !== up) return;
      if (conn.piped) return upstreamGone(conn, up);
      log({ event: 'endpoints.upstream_failed', role: conn.role, target: conn.key, reason: err.message });
      up.destroy();
      tryTarget(conn, targets, i + 1);
    });
    up.on('close', () => {
      clearTimeout(timer);
      if (conn.piped) upstreamGone(conn, up);
    });
  }

  function onReady(conn: Conn, status: string): void {
    conn.ready = true;
    conn.betweenTx = status === 'I';
    // Parked after this chunk is forwarded: the ReadyForQuery must reach the client first.
    if (conn.betweenTx && pause && conn.role === 'writer') queueMicrotask(() => park(conn));
  }

  /** Detaches a writer session that sits between transactions from the old primary, ending its backend cleanly. */
  function park(conn: Conn): void {
    if (!pause || conn.done || conn.parked || !conn.piped || !conn.betweenTx || conn.role !== 'writer') return;
    const up = conn.upstream;
    conn.upstream = null;
    conn.piped = false;
    conn.parked = [];
    pause.parked.add(conn);
    pause.drained++;
    // Terminate ('X'): the backend ends without an error the client would see.
    up?.end(Buffer.from([0x58, 0, 0, 0, 4]));
    if (openWriterSessions() === 0) pause.settle?.();
  }

  function openWriterSessions(): number {
    let n = 0;
    for (const c of conns) if (c.role === 'writer' && c.piped) n++;
    return n;
  }

  /**
   * Re-attaches a parked session to the current writer: its startup packet is sent again and
   * the new server's greeting swallowed up to its ReadyForQuery; then the kept bytes go on.
   * Only a session that logged in without a password exchange can be; any other is closed
   * between transactions with a FATAL the client can retry on.
   */
  function reattach(conn: Conn, result: ResumeResult): void {
    // Parked until greeted: bytes the client sends meanwhile are kept too.
    conn.client.pause();
    const target = routes.candidates('writer')[0];
    const closeCleanly = () => {
      result.closed++;
      conn.parked = null;
      conn.done = true;
      conns.delete(conn);
      conn.client.end(fatalErrorResponse('pgvigil endpoint: the primary changed; connect again', '57P01'), () => conn.client.destroy());
    };
    if (!target || !conn.startup || conn.authTalk || !conn.tracker.tracking) return closeCleanly();
    result.moved++;
    let greeted = false;
    const greeting = new ServerMessageTracker(() => {
      greeted = true;
    });
    const up: net.Socket = net.connect({
      host: target.host,
      port: target.port,
      noDelay: true,
      onread: {
        buffer: replyBuffer,
        callback: (n: number, buf: Uint8Array): boolean => {
          if (conn.upstream !== up) return false;
          const chunk = buf.subarray(0, n);
          if (!greeted) {
            greeting.feed(chunk);
            if (greeted) {
              const kept = conn.parked ?? [];
              conn.parked = null;
              for (const c of kept) up.write(c);
              conn.piped = true;
              conn.betweenTx = kept.length === 0;
              conn.client.resume();
            }
            return true;
          }
          const ok = forward(conn.client, up, chunk);
          conn.tracker.feed(chunk);
          return ok;
        },
      },
    });
    conn.upstream = up;
    conn.key = targetKey(target);
    conn.name = target.name;
    conn.tracker = new ServerMessageTracker((status) => onReady(conn, status));
    up.once('connect', () => up.write(conn.startup as Buffer));
    const gone = () => {
      if (conn.upstream !== up || conn.done) return;
      if (greeted) return cut(conn);
      result.moved--;
      conn.upstream = null;
      closeCleanly();
    };
    up.on('error', gone);
    up.on('close', gone);
    up.on('end', () => {
      if (conn.upstream === up && greeted) conn.client.end();
    });
  }

  function endPause(): ResumeResult | null {
    if (!pause) return null;
    const p = pause;
    pause = null;
    clearTimeout(p.safety);
    p.settle?.();
    const result: ResumeResult = { pausedMs: Math.round(performance.now() - p.at), moved: 0, closed: 0, held: p.held };
    for (const conn of p.parked) if (!conn.done) reattach(conn, result);
    log({ event: 'endpoints.resumed', ...result });
    return result;
  }

  function accept(role: ProxyRole) {
    return (client: net.Socket): void => {
      const conn: Conn = {
        role, key: '', name: '', client, upstream: null, piped: false, done: false,
        acceptedAt: performance.now(), holdTimer: null, wasHeld: false, unanswered: [],
        startup: null, authTalk: false, ready: false, betweenTx: false, parked: null,
        tracker: new ServerMessageTracker((status) => onReady(conn, status)),
      };
      conns.add(conn);
      client.pause();
      client.on('error', () => cut(conn));
      client.on('close', () => cut(conn));
      client.on('data', (chunk: Buffer) => {
        if (conn.parked) {
          // The start of its next transaction: kept until the session is re-attached.
          conn.parked.push(chunk);
          client.pause();
          return;
        }
        conn.betweenTx = false;
        // The proxy reads the protocol to drain and move sessions between transactions, which an
        // encrypted stream hides: it answers an SSLRequest/GSSENCRequest itself with 'N' (no), and
        // the client (libpq's default sslmode=prefer) goes on in plaintext on this loopback hop.
        // A client that requires TLS connects to a node directly (ARCHITECTURE, the local proxy).
        if (conn.startup === null && chunk.length === 8 && asksEncryption(chunk)) {
          client.write(ENCRYPTION_REFUSED);
          return;
        }
        if (conn.unanswered !== null) {
          if (conn.unanswered.length === 0 && isCancelRequest(chunk)) conn.unanswered = null;
          else conn.unanswered.push(chunk);
        }
        if (conn.startup === null && asksEncryption(chunk)) conn.tracker.expectNegotiation();
        else if (conn.startup === null) conn.startup = Buffer.from(chunk);
        else if (!conn.ready) conn.authTalk = true;
        const up = conn.upstream;
        if (up && conn.piped && !forward(up, client, chunk)) client.pause();
      });
      client.on('end', () => conn.upstream?.end());
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
      // Parked sessions go to the new writer first; only then are the old writer's others cut.
      const resumed = pause && writer && term >= pause.term ? endPause() : null;
      let cutCount = 0;
      for (const conn of [...conns]) {
        if (conn.key === '' || conn.parked !== null || routes.keeps(conn.role, conn.key)) continue;
        if (conn.piped && conn.unanswered === null) {
          cut(conn);
          cutCount++;
        } else {
          // Still connecting to a target that lost its role: the client was told nothing yet, so it tries the new ones.
          const up = conn.upstream;
          conn.upstream = null;
          up?.destroy();
          hold(conn);
        }
      }
      log({ event: 'endpoints.applied', term, writer: writer ? targetKey(writer) : null, readers: readers.map(targetKey), cut: cutCount });
      releaseHeld();
      return resumed ? { ok: true, applied: true, detail: { resumed } } : { ok: true, applied: true };
    },

    async drain(term: number): Promise<DrainResult> {
      const started = performance.now();
      // A demote asked again after the new writer of its term was applied: nothing left to drain.
      if (routes.currentTerm >= term) return { term, drained: 0, cut: 0, waitedMs: 0 };
      if (pause) endPause();
      let settle: () => void = () => {};
      const settled = new Promise<void>((resolve) => (settle = resolve));
      // Never paused for good: if no new writer comes (the control plane died mid-switchover), the pause ends on its own.
      const safety = setTimeout(() => {
        endPause();
        releaseHeld();
      }, opts.drainTimeoutMs + opts.holdMs);
      pause = { term, at: started, held: 0, parked: new Set(), drained: 0, settle, safety, stopping: false };
      const p = pause;
      for (const conn of [...conns]) park(conn);
      const timer = setTimeout(() => settle(), opts.drainTimeoutMs);
      if (openWriterSessions() > 0) await settled;
      clearTimeout(timer);
      p.settle = null;
      p.stopping = true;
      let cutCount = 0;
      for (const conn of [...conns]) {
        if (conn.role !== 'writer' || !conn.piped) continue;
        if (conn.unanswered !== null) {
          // Still logging in: nothing was said to the client yet, so it waits for the new primary.
          const up = conn.upstream;
          conn.upstream = null;
          up?.destroy();
          hold(conn);
          continue;
        }
        cut(conn);
        cutCount++;
      }
      const result: DrainResult = { term, drained: p.drained, cut: cutCount, waitedMs: Math.round(performance.now() - started) };
      log({ event: 'endpoints.drained', ...result });
      return result;
    },

    resume(): ResumeResult | null {
      const r = endPause();
      releaseHeld();
      return r;
    },

    stats(): ProxyStats {
      const out: ProxyStats = { term: routes.currentTerm, writer: {}, reader: {}, held: { writer: 0, reader: 0 }, handedOver, holdExpired };
      for (const conn of held) out.held[conn.role]++;
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
