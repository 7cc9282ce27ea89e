import http from 'node:http';
import https from 'node:https';
import type { Server as NetServer } from 'node:net';
import { agentListener } from '../../lib/agent/agentListener.ts';

/**
 * An HTTP relay in front of an agent that passes every request on as it is and, while armed,
 * holds the agent's answer to one action until released: the agent does the work when asked
 * (its signature and clock checks see a fresh request), and the caller waits as long as the
 * test says, as it would on a slow pg_rewind. With `tls` (the agent channel is HTTPS, issue 15)
 * it serves the host's certificate on the agent's one port as an agent does (agentListener: the
 * supervisor's plain readiness check passes too) and speaks HTTPS to the agent, checked against the CA.
 */
export class HeldAnswerRelay {
  private server: (NetServer & { closeAllConnections(): void }) | null = null;
  private release: (() => void) | null = null;
  private readonly releasing: Promise<void>;
  /** How often the held action was asked, and when first (ms). */
  asked = 0;
  firstAskedAt: number | null = null;
  /** Set once the agent answered the held action (the answer still held until release). */
  answered = false;

  constructor(
    private readonly target: { host: string; port: number; tls?: { cert: string; key: string; ca: string } },
    private readonly heldPath: string,
  ) {
    this.releasing = new Promise<void>((resolve) => (this.release = resolve));
  }

  async listen(port: number): Promise<void> {
    const tls = this.target.tls;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const held = req.method === 'POST' && req.url === this.heldPath;
      if (held) {
        this.asked += 1;
        this.firstAskedAt ??= Date.now();
      }
      const to = { host: this.target.host, port: this.target.port, method: req.method, path: req.url, headers: req.headers };
      const onAnswer = (answer: http.IncomingMessage) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          if (held) this.answered = true;
          void (held ? this.releasing : Promise.resolve()).then(() => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(chunks));
          });
        });
      };
      const up = tls ? https.request({ ...to, ca: tls.ca }, onAnswer) : http.request(to, onAnswer);
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    this.server = agentListener(handler, tls ? { cert: tls.cert, key: tls.key } : undefined, { headersTimeout: 60_000, requestTimeout: 0 });
    await new Promise<void>((resolve, reject) => this.server!.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  }

  /** Let the held answers go. */
  letGo(): void {
    this.release?.();
  }

  async close(): Promise<void> {
    this.letGo();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
