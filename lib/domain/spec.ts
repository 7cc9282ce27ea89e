import { z } from 'zod';
import { parseWith, type Parsed } from './parse.ts';

/** A node name is used in store keys, file names and DNS labels: keep it plain. */
export const NodeName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, 'use 1-31 lowercase letters, digits or dashes, starting with a letter');

export const NodeTags = z
  .object({
    /** Higher wins among equally safe candidates. */
    priority: z.number().int().min(0).max(1000).default(100),
    /** Never promoted automatically or by switchover. */
    nofailover: z.boolean().default(false),
    /** Never listed in synchronous_standby_names. */
    nosync: z.boolean().default(false),
  })
  .strict();

export const NodeSpec = z
  .object({
    name: NodeName,
    host: z.string().min(1, 'give the host name or IP address PostgreSQL listens on'),
    port: z.number({ error: 'give the PostgreSQL port, e.g. 5432' }).int().min(1).max(65535),
    /** The node agent's base URL, e.g. http://10.0.1.5:8008 */
    agent: z.string().url('give the agent URL, e.g. http://127.0.0.1:8008'),
    tags: NodeTags.default({ priority: 100, nofailover: false, nosync: false }),
  })
  .strict();
export type NodeSpec = z.infer<typeof NodeSpec>;

export const ReplicationSpec = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('synchronous'),
      /** ANY k (…): a commit waits for k standbys. */
      quorum: z.number().int().min(1).default(1),
    })
    .strict(),
  z
    .object({
      mode: z.literal('async'),
      /** A standby further behind the last known primary LSN than this is never promoted. */
      maximumLagOnFailover: z.number().int().min(0).default(1024 * 1024),
    })
    .strict(),
]);
export type ReplicationSpec = z.infer<typeof ReplicationSpec>;

/**
 * The timeouts of rule 7. Defaults are tuned for a 3-node cluster on one network:
 * the README explains what each trades.
 */
export const TimingSpec = z
  .object({
    /** How often the control plane probes every node. */
    probeIntervalMs: z.number().int().min(50).max(60_000).default(150),
    /** Consecutive failed probes before a node counts as down. */
    failureThreshold: z.number().int().min(1).max(100).default(3),
    /** Connect and statement timeout of one probe. */
    probeTimeoutMs: z.number().int().min(50).max(30_000).default(400),
    /** An agent that cannot renew its lease this long, with no standby streaming from it, stops PostgreSQL. */
    leaseTtlMs: z.number().int().min(100).default(3_000),
    /**
     * The wait, from the moment the control plane last saw the primary's lease change,
     * before an unreachable primary counts as fenced by its lease (lease TTL plus a margin).
     */
    fenceWaitMs: z.number().int().min(100).default(4_500),
    /** Each node's observation is rewritten at least this often even when nothing changed. */
    heartbeatMs: z.number().int().min(100).default(10_000),
    /** How long an intent may go unanswered before it is asked again. */
    actionTimeoutMs: z.number().int().min(100).default(5_000),
  })
  .strict();
export type TimingSpec = z.infer<typeof TimingSpec>;

/** A database name PgBouncer serves and pgvigil writes into its [databases] file: plain, so the line needs no quoting. */
const PgBouncerDbName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'use letters, digits and underscores, starting with a letter or underscore');

/** A PgBouncer admin console address. The spec is recorded in the decision log, so it never carries a password. */
const PgBouncerAdmin = z
  .string()
  .url('give the admin console as a URL, e.g. postgresql://pgvigil@10.0.1.9:6432/pgbouncer')
  .superRefine((value, ctx) => {
    const u = new URL(value);
    if (u.protocol !== 'postgresql:' && u.protocol !== 'postgres:') ctx.addIssue({ code: 'custom', message: 'use a postgresql:// URL' });
    if (u.password !== '') ctx.addIssue({ code: 'custom', message: 'no password here (the spec is recorded in the decision log): name an environment variable in passwordEnv' });
    if (u.pathname !== '/pgbouncer') ctx.addIssue({ code: 'custom', message: 'the admin console is the virtual database pgbouncer: end the URL with /pgbouncer' });
    if (!u.hostname || !u.port) ctx.addIssue({ code: 'custom', message: 'give the host and port PgBouncer listens on, e.g. @10.0.1.9:6432' });
  });

/**
 * PgBouncer in front of the cluster (issue 17 part 2): pgvigil PAUSEs it before a switchover's
 * demote, rewrites the [databases] file its pgbouncer.ini `%include`s to point at the new primary,
 * RELOADs and RESUMEs it. The control plane must reach each admin console and write each file.
 */
export const PgBouncerSpec = z
  .object({
    instances: z
      .array(
        z
          .object({
            admin: PgBouncerAdmin,
            /** The file pgvigil owns: a [databases] section, included at the end of that PgBouncer's ini (`%include <file>`). */
            databasesFile: z.string().regex(/^\/[^\n]*$/, 'give an absolute path'),
          })
          .strict(),
      )
      .min(1, 'list at least one PgBouncer'),
    /** The control plane's environment variable holding the admin password, when the console asks for one. */
    passwordEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'name an environment variable, e.g. PGBOUNCER_ADMIN_PASSWORD').optional(),
    /** Each entry is pointed at the primary: `name = host=… port=… dbname=…`. */
    databases: z.array(z.object({ name: PgBouncerDbName, dbname: PgBouncerDbName.optional() }).strict()).min(1, 'list at least one database'),
    /** How long a switchover waits for PAUSE (open transactions to finish) before it demotes anyway. */
    pauseTimeoutMs: z.number().int().min(0).max(300_000).default(10_000),
    /** Every other admin command (RELOAD, RESUME), and the connect. */
    commandTimeoutMs: z.number().int().min(100).max(60_000).default(3_000),
    /** A pause no endpoints change ends (the failover gave up) is RESUMEd after this long. */
    holdMs: z.number().int().min(1_000).max(600_000).default(30_000),
  })
  .strict();
export type PgBouncerSpec = z.infer<typeof PgBouncerSpec>;
export type PgBouncerSpecInput = z.input<typeof PgBouncerSpec>;

/**
 * fenceWaitMs − leaseTtlMs, at least: the lease proof counts a primary stopped fenceWaitMs after
 * the prober saw its lease move, and its agent stops it by one TTL after it *sent* that renewal
 * (earlier), plus its check period (100 ms) and `pg_ctl stop -m immediate` (a few hundred ms).
 */
export const FENCE_MARGIN_MS = 500;

export const ClusterSpec = z
  .object({
    cluster: NodeName,
    nodes: z.array(NodeSpec).min(1, 'list at least one node'),
    replication: ReplicationSpec.default({ mode: 'synchronous', quorum: 1 }),
    timing: TimingSpec.default(TimingSpec.parse({})),
    /** The reader endpoint serves only standbys within this many bytes of the primary. */
    readLagLimit: z.number().int().min(0).default(16 * 1024 * 1024),
    /** PgBouncer in front of the cluster, driven through switchovers and failovers; absent: none. */
    pgbouncer: PgBouncerSpec.optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const seen = new Set<string>();
    spec.nodes.forEach((node, i) => {
      if (seen.has(node.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['nodes', i, 'name'],
          message: `duplicate node name "${node.name}": give every node its own name`,
        });
      }
      seen.add(node.name);
    });
    const endpoints = new Set<string>();
    spec.nodes.forEach((node, i) => {
      const key = `${node.host}:${node.port}`;
      if (endpoints.has(key)) {
        ctx.addIssue({ code: 'custom', path: ['nodes', i, 'port'], message: `${key} is used by another node: give each node its own host:port` });
      }
      endpoints.add(key);
    });
    const t = spec.timing;
    const window = t.probeIntervalMs * t.failureThreshold;
    if (!(window < t.leaseTtlMs)) {
      ctx.addIssue({
        code: 'custom',
        path: ['timing', 'leaseTtlMs'],
        message: `must exceed probeIntervalMs × failureThreshold (${window} ms): raise leaseTtlMs or shorten the failure window`,
      });
    }
    if (!(t.fenceWaitMs - t.leaseTtlMs >= FENCE_MARGIN_MS)) {
      ctx.addIssue({
        code: 'custom',
        path: ['timing', 'fenceWaitMs'],
        message: `must exceed leaseTtlMs (${t.leaseTtlMs} ms) by at least ${FENCE_MARGIN_MS} ms (the agent's check period and its immediate stop), or a cut-off primary could still be serving when its successor is promoted: raise fenceWaitMs to ${t.leaseTtlMs + FENCE_MARGIN_MS} or more`,
      });
    }
    if (!(t.probeTimeoutMs <= t.probeIntervalMs * t.failureThreshold)) {
      ctx.addIssue({
        code: 'custom',
        path: ['timing', 'probeTimeoutMs'],
        message: `must not exceed the failure window (${window} ms): lower probeTimeoutMs`,
      });
    }
    if (spec.replication.mode === 'synchronous') {
      const syncable = spec.nodes.filter((n) => !n.tags.nosync).length - 1;
      if (spec.nodes.length > 1 && spec.replication.quorum > Math.max(syncable, 1)) {
        ctx.addIssue({
          code: 'custom',
          path: ['replication', 'quorum'],
          message: `quorum ${spec.replication.quorum} exceeds the ${syncable} standbys that may be synchronous: lower it or add nodes`,
        });
      }
    }
  });
export type ClusterSpec = z.infer<typeof ClusterSpec>;
export type ClusterSpecInput = z.input<typeof ClusterSpec>;

export function parseClusterSpec(input: unknown): Parsed<ClusterSpec> {
  return parseWith(ClusterSpec, input, 'cluster spec');
}

/** The failure window of rule 1. */
export function failureWindowMs(timing: TimingSpec): number {
  return timing.probeIntervalMs * timing.failureThreshold;
}

/** Observations older than this were not confirmed by a live prober: the control plane is blind to that node. */
export function staleAfterMs(timing: TimingSpec): number {
  return 2 * timing.heartbeatMs + timing.probeIntervalMs + timing.probeTimeoutMs;
}
