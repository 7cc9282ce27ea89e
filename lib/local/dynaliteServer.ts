import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';

export type DynaliteServer = { endpoint: string; stop(): Promise<void> };

/**
 * Start dynalite in this process on 127.0.0.1: in memory, or on disk under `path` (LevelDB),
 * which survives a restart. Tables become ACTIVE at once. Port 0 picks a free port.
 */
export async function startDynalite(opts: { path?: string; port?: number } = {}): Promise<DynaliteServer> {
  if (opts.path !== undefined) mkdirSync(opts.path, { recursive: true });
  const server = dynalite({
    ...(opts.path !== undefined ? { path: opts.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | null = null;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop() {
      stopped ??= new Promise<void>((resolve, reject) => {
        // dynalite's close waits for pending LevelDB writes, then closes the database.
        server.close((err) => (err ? reject(err) : resolve()));
        // Clients keep sockets alive; drop them or close would wait for them to go idle.
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
