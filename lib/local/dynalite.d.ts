// dynalite ships no types: the part of its API that lib/local/dynaliteServer.ts uses.
declare module 'dynalite' {
  import type { Server } from 'node:http';
  export type DynaliteOptions = {
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
    verbose?: boolean;
    debug?: boolean;
  };
  export default function dynalite(options?: DynaliteOptions): Server;
}
