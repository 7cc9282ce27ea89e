import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

/** One acknowledged write: which server acknowledged it (its cluster_name) and when, on this process's monotonic clock. */
export interface Ack {
  id: number;
  /** The server that answered, by its own cluster_name. */
  node: string;
  /** The node whose address the write was sent to. */
  target: string;
  /** When the write was sent and when its acknowledgement arrived (performance.now()). */
  sentAt: number;
  at: number;
}

export interface DirectTarget {
  node: string;
  host: string;
  port: number;
}

export interface DirectWriterOptions {
  targets: readonly DirectTarget[];
  /** The source address of every connection (an address of this host): the partition rules tell the client from the control plane by it. */
  localAddress: string;
  table: string;
  /** Pause between two writes on one connection. */
  everyMs?: number;
  /** A write unanswered this long counts as not acknowledged, and its connection is dropped. */
  writeTimeoutMs?: number;
}

/** A TCP socket whose connect (as pg calls it: port, host) leaves from `localAddress`. */
function boundSocket(localAddress: string): Socket {
  const s = new Socket();
  const connect = s.connect.bind(s) as (o: { port: number; host: string; localAddress: string }) => Socket;
  Object.defineProperty(s, 'connect', { value: (port: number, host: string) => connect({ port, host, localAddress }) });
  return s;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A client that writes **directly to every node's own address**, never through a proxy or a
 * VIP (either would cut an old primary's connections and so hide a split brain): one
 * connection per node, each write a row with a unique id, each acknowledgement recorded with
 * the server that gave it and the time. A standby refuses the writes (read only) until it is
 * promoted; its connection is kept, so its first write after the promotion is acknowledged.
 */
export class DirectWriter {
  readonly acks: Ack[] = [];
  /** When each node was last tried (a connect or a write), on the monotonic clock. */
  private readonly attempts = new Map<string, number[]>();
  readonly lastError = new Map<string, string>();
  private nextId = 1;
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly clients = new Set<pg.Client>();

  constructor(private readonly o: DirectWriterOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = this.o.targets.map((t) => this.loop(t));
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const c of this.clients) destroy(c);
    await Promise.allSettled(this.loops);
  }

  /** Attempts on `node` that started at or after `t`. */
  attemptsSince(node: string, t: number): number {
    return (this.attempts.get(node) ?? []).filter((x) => x >= t).length;
  }

  acksBy(node: string): Ack[] {
    return this.acks.filter((a) => a.node === node);
  }

  private tried(node: string): void {
    const list = this.attempts.get(node) ?? [];
    list.push(performance.now());
    this.attempts.set(node, list);
  }

  private async loop(t: DirectTarget): Promise<void> {
    const everyMs = this.o.everyMs ?? 5;
    const timeoutMs = this.o.writeTimeoutMs ?? 3_000;
    while (this.running) {
      const client = new pg.Client({
        host: t.host,
        port: t.port,
        user: 'postgres',
        database: 'postgres',
        application_name: 'pgv-direct-writer',
        connectionTimeoutMillis: 1_000,
        stream: () => boundSocket(this.o.localAddress),
      });
      // A server going away must fail the awaited call, not crash the process.
      client.on('error', () => {});
      this.clients.add(client);
      try {
        this.tried(t.node);
        await client.connect();
        while (this.running) {
          const id = this.nextId++;
          this.tried(t.node);
          const sentAt = performance.now();
          let r: pg.QueryResult<{ name: string }>;
          try {
            r = await withTimeout(
              client.query<{ name: string }>(`INSERT INTO ${this.o.table} (id, target) VALUES ($1, $2) RETURNING current_setting('cluster_name') AS name`, [id, t.node]),
              timeoutMs,
            );
          } catch (e) {
            const code = (e as { code?: unknown }).code;
            // An SQL error (a standby is read only: 25006) leaves the session usable; anything else ends it.
            if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('57') && !code.startsWith('08')) {
              this.lastError.set(t.node, `${code}: ${(e as Error).message}`);
              await sleep(50);
              continue;
            }
            throw e;
          }
          this.acks.push({ id, node: r.rows[0]?.name ?? '?', target: t.node, sentAt, at: performance.now() });
          if (everyMs > 0) await sleep(everyMs);
        }
      } catch (e) {
        this.lastError.set(t.node, (e as Error).message);
        await sleep(100);
      } finally {
        this.clients.delete(client);
        destroy(client);
      }
    }
  }
}

function destroy(c: pg.Client): void {
  // Drop the socket: end() waits for the server's answer, which a cut network never sends, and
  // called while connecting it leaves connect() unsettled for ever (pg calls no callback once ending).
  const stream = (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  stream?.destroy();
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
