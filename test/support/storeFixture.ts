import { randomUUID } from 'node:crypto';
import { startDynalite, type DynaliteServer } from '../../lib/local/dynaliteServer.ts';
import { closeStore, createStore, type Store } from '../../lib/store/store.ts';
import { ensureTable } from '../../lib/store/table.ts';
import type { Log, LogEntry } from '../../lib/log.ts';

/** A dynalite server with the table created, and a store client on it that records its logs. */
export type StoreFixture = { server: DynaliteServer; store: Store; logs: LogEntry[]; stop(): Promise<void> };

export async function startStoreFixture(opts: { path?: string; port?: number } = {}): Promise<StoreFixture> {
  const server = await startDynalite(opts);
  const logs: LogEntry[] = [];
  const log: Log = (entry) => logs.push(entry);
  const store = createStore({ table: 'pgvigil-test', region: 'us-east-1', endpoint: server.endpoint }, log);
  const table = await ensureTable(store);
  if (!table.ok) throw new Error(table.reason);
  return {
    server,
    store,
    logs,
    async stop() {
      closeStore(store);
      await server.stop();
    },
  };
}

/** A cluster name of its own per case, so cases share one table without seeing each other. */
export const freshCluster = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
