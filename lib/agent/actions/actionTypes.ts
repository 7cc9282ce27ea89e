import { z } from 'zod';
import { NodeName } from '../../domain/spec.ts';
import type { AgentConfig } from '../agentConfig.ts';
import type { FenceMarker } from '../fenceMarker.ts';
import type { PgServer } from '../../postgres/pgServer.ts';
import type { TermStore } from '../termStore.ts';
import type { Log } from '../../log.ts';

/** Every action answers this: ok, a reason a person can act on, and its own facts. */
export type ActionResult = { ok: boolean; reason: string } & Record<string, unknown>;

export interface ActionContext {
  config: AgentConfig;
  pg: PgServer;
  terms: TermStore;
  fence: FenceMarker;
  log: Log;
}

/**
 * One row of the action table: its request schema, whether it must carry a term
 * (checked and persisted by the server before `run`), and what it does.
 */
export interface ActionDef<S extends z.ZodType = z.ZodType> {
  schema: S;
  term: 'required' | 'optional' | 'none';
  run(ctx: ActionContext, input: z.infer<S>): Promise<ActionResult>;
}

export function defineAction<S extends z.ZodType>(def: ActionDef<S>): ActionDef<S> {
  return def;
}

export const Term = z.number({ error: 'give the term (an integer ≥ 0)' }).int().min(0);

/** A peer PostgreSQL node; the host ends up in a conninfo, so only plain host names. */
export const Peer = z
  .object({
    name: NodeName,
    host: z.string().regex(/^[A-Za-z0-9.:_-]{1,253}$/, 'give a host name or IP address'),
    port: z.number({ error: 'give the PostgreSQL port' }).int().min(1).max(65535),
  })
  .strict();
export type Peer = z.infer<typeof Peer>;
