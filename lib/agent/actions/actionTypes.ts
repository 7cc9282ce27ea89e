import type { z } from 'zod';
import type { AgentConfig } from '../agentConfig.ts';
import type { FenceMarker } from '../fenceMarker.ts';
import type { PgServer } from '../../postgres/pgServer.ts';
import type { TermStore } from '../termStore.ts';
import type { Log } from '../../log.ts';
import type { Answer } from './wire.ts';

export interface ActionContext {
  config: AgentConfig;
  pg: PgServer;
  terms: TermStore;
  fence: FenceMarker;
  log: Log;
  /**
   * Renew the lease now if it has lapsed; not ok when it can't be renewed (absent without a
   * store). A primary made from a lapsed lease would stop itself at its next check.
   */
  leaseFresh?: () => Promise<{ ok: true } | { ok: false; reason: string }>;
  /** The decision log's term, read now (absent without a store). */
  logTerm?: () => Promise<{ ok: true; term: number } | { ok: false; reason: string }>;
}

/**
 * One row of the action table: its request schema, its answer schema (from `wire.ts`, where
 * callers read it), whether it must carry a term (checked and persisted by the server before
 * `run`), and what it does. `run` answers ok with the facts of the answer schema, or a failure.
 */
export interface ActionDef<S extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  schema: S;
  answer: R;
  term: 'required' | 'none';
  run(ctx: ActionContext, input: z.infer<S>): Promise<Answer<z.infer<R>>>;
}

export function defineAction<S extends z.ZodType, R extends z.ZodType>(def: ActionDef<S, R>): ActionDef<S, R> {
  return def;
}
