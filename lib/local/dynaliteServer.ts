import { mkdirSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';

export type DynaliteServer = { endpoint: string; stop(): Promise<void> };

/** How long a stop waits for requests dynalite is still handling before it cuts their connections. */
const DRAIN_MS = 5_000;

/**
 * Start dynalite in this process on 127.0.0.1: in memory, or on disk under `path` (LevelDB),
 * which survives a restart. Tables become ACTIVE at once. Port 0 picks a free port.
 * `host`: another local address to listen on (the VIP test's bridge, which agents in
 * network namespaces reach); 127.0.0.1 otherwise.
 */
export async function startDynalite(opts: { path?: string; port?: number; host?: string } = {}): Promise<DynaliteServer> {
  const host = opts.host ?? '127.0.0.1';
  if (opts.path !== undefined) mkdirSync(opts.path, { recursive: true });
  const server = dynalite({
    ...(opts.path !== undefined ? { path: opts.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  // A handler still running when the database closes throws "Database is closed" from inside
  // dynalite, uncaught. Count handlers by their response's end, so stop can wait for them.
  let inflight = 0;
  server.on('request', (_req, res: ServerResponse) => {
    inflight++;
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    let ended = false;
    res.end = ((...args: unknown[]) => {
      if (!ended) {
        ended = true;
        inflight--;
      }
      return end(...args);
    }) as typeof res.end;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | null = null;
  return {
    endpoint: `http://${host}:${port}`,
    stop() {
      stopped ??= (async () => {
        // dynalite's close stops listening, waits for every connection to end, then closes the database.
        const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
        const deadline = Date.now() + DRAIN_MS;
        while (inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        // No handler is running now (the loop saw none between two events): cutting the
        // clients' keep-alive sockets cannot strand one half-way through.
        server.closeAllConnections();
        await closed;
      })();
      return stopped;
    },
  };
}
