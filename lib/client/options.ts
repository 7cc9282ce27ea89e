import pg from 'pg';
import type { PoolConfig } from 'pg';
import { z } from 'zod';
import { parseWith, type Parsed } from '../domain/parse.ts';

/** A pg connection string, or a pg.PoolConfig object (passed to pg.Pool as is). */
const Connection = z.union(
  [
    z.string().min(1, 'give a connection string like postgresql://app@127.0.0.1:5432/app'),
    z.looseObject({ max: z.number().int().min(1).optional() }),
  ],
  { error: 'give a connection string or a pg.PoolConfig object' },
);

const ClusterOptions = z
  .object({
    writer: Connection,
    reader: Connection.optional(),
    readers: z.array(Connection).min(1, 'list at least one reader, or give `reader`').optional(),
    readYourWrites: z
      .object({
        /** How long a read with `after` waits for a standby to replay that LSN before it runs on the writer. */
        timeoutMs: z.number().int().min(0).max(60_000).default(1_000),
        /** How often the standby's replay position is asked while waiting. */
        pollMs: z.number().int().min(1).max(10_000).default(2),
      })
      .strict()
      .default({ timeoutMs: 1_000, pollMs: 2 }),
    failover: z
      .object({
        /**
         * How long a connection, a read, or the check of an interrupted COMMIT is tried again
         * across a failover or restart before the error reaches the caller.
         */
        retryMs: z.number().int().min(0).max(300_000).default(15_000),
      })
      .strict()
      .default({ retryMs: 15_000 }),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.reader === undefined && o.readers === undefined) {
      ctx.addIssue({ code: 'custom', path: ['reader'], message: 'give `reader` (the reader endpoint or one standby) or `readers` (a list of standbys)' });
    }
    if (o.reader !== undefined && o.readers !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['readers'], message: 'give either `reader` or `readers`, not both' });
    }
  });

export type ClusterOptionsInput = z.input<typeof ClusterOptions>;

export interface ClusterOptions {
  writer: PoolConfig;
  readers: PoolConfig[];
  readYourWrites: { timeoutMs: number; pollMs: number };
  failover: { retryMs: number };
}

/**
 * A frozen host accepts TCP and then never answers: pg would wait forever for it. A bounded
 * connect lets a read move to the writer instead.
 */
export const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Bounds each new connection. Set on the client, not the pool: a pool with
 * `connectionTimeoutMillis` arms a timer on every checkout, which costs the hot path.
 * A `connectionTimeoutMillis` or `Client` given in the config wins.
 */
class BoundedConnectClient extends pg.Client {
  constructor(config?: pg.ClientConfig) {
    super({ connectionTimeoutMillis: CONNECT_TIMEOUT_MS, ...config });
  }
}

function toPoolConfig(c: string | Record<string, unknown>): PoolConfig {
  const config: PoolConfig = typeof c === 'string' ? { connectionString: c } : { ...(c as PoolConfig) };
  return { Client: BoundedConnectClient, ...config };
}

export function parseClusterOptions(input: unknown): Parsed<ClusterOptions> {
  const parsed = parseWith(ClusterOptions, input, 'pgvigil client options');
  if (!parsed.ok) return parsed;
  const o = parsed.value;
  const readers = o.readers ?? (o.reader !== undefined ? [o.reader] : []);
  return {
    ok: true,
    value: { writer: toPoolConfig(o.writer), readers: readers.map(toPoolConfig), readYourWrites: o.readYourWrites, failover: o.failover },
  };
}
