import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** The agent's certificate and key (PEM), issued by the cluster CA (lib/host/clusterTls.ts). */
export interface AgentTls {
  cert: string;
  key: string;
}

/** What startAgent needs of the listening side: a server, and a way to drop every open connection. */
export type AgentListener = NetServer & { closeAllConnections(): void };

/** A TLS record starts with 0x16 (handshake); an HTTP request with a letter. */
const TLS_HANDSHAKE = 0x16;
/** A connection that sends nothing is closed after this, before either server sees it. */
const FIRST_BYTE_TIMEOUT_MS = 5_000;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * One port, both protocols (issue 15, the agent channel): a connection that opens with a TLS
 * handshake goes to the HTTPS server, anything else to the plain one. The same handler serves
 * both and refuses an action that did not come over TLS (isEncrypted), so health checks and
 * metrics scrapers (HAProxy, Prometheus, the supervisor's readiness check) keep plain HTTP while
 * every signed request is encrypted and the caller has checked the agent's certificate.
 * Without `tls`, plain HTTP only (a host set up before the agent channel had TLS).
 */
export function agentListener(handler: Handler, tls: AgentTls | undefined, limits: { headersTimeout: number; requestTimeout: number }): AgentListener | HttpServer {
  const plain = createHttpServer(handler);
  plain.headersTimeout = limits.headersTimeout;
  plain.requestTimeout = limits.requestTimeout;
  if (!tls) return plain;
  const secure = createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, handler);
  secure.headersTimeout = limits.headersTimeout;
  secure.requestTimeout = limits.requestTimeout;
  const sniffing = new Set<Socket>();
  const front = createNetServer((socket) => {
    sniffing.add(socket);
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    socket.once('close', () => sniffing.delete(socket));
    socket.once('data', (first: Buffer) => {
      socket.setTimeout(0);
      sniffing.delete(socket);
      socket.pause();
      socket.unshift(first);
      (first[0] === TLS_HANDSHAKE ? secure : plain).emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
    socket.on('error', () => socket.destroy());
  }) as AgentListener;
  front.closeAllConnections = () => {
    for (const s of sniffing) s.destroy();
    plain.closeAllConnections();
    secure.closeAllConnections();
  };
  return front;
}

/** Whether a request came over TLS. */
export function isEncrypted(req: IncomingMessage): boolean {
  return (req.socket as Partial<TLSSocket>).encrypted === true;
}
