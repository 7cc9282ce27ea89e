import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { parseWith, type Parsed } from '../domain/parse.ts';
import type { AgentKeys } from './signing.ts';
import { NodeName } from '../domain/spec.ts';
import { ArchiveTarget } from '../backup/archiveTarget.ts';
import { StoreConfig } from '../store/storeConfig.ts';
import { VipConfig } from '../endpoints/vip/vipConfig.ts';
import { BootstrapConfig } from '../host/bootstrapConfig.ts';
import { hostFiles, replicationAuthOf } from '../host/hostFiles.ts';

const absolutePath = (what: string) =>
  z.string({ error: `give the ${what} as an absolute path` }).refine(isAbsolute, `give the ${what} as an absolute path`);

const port = (what: string, example: number) => z.number({ error: `give the ${what} port, e.g. ${example}` }).int().min(1).max(65535);

/** The agent's config file. The key itself is never part of the parsed config (see loadAgentKey). */
export const AgentConfig = z
  .object({
    cluster: NodeName,
    node: NodeName,
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: port('agent listen', 8008),
      })
      .strict(),
    dataDir: absolutePath('PostgreSQL data directory'),
    bindir: absolutePath('PostgreSQL bin directory (e.g. /usr/lib/postgresql/15/bin)'),
    pgPort: port('PostgreSQL', 5432),
    pgHost: z.string().min(1).default('127.0.0.1'),
    /** Run PostgreSQL tools as this OS user: required when the agent runs as root. */
    osUser: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'give an OS user name, e.g. pgvigil').optional(),
    /** A file holding this node's HMAC key (and during a rotation the previous one); else `keyParameter`, `keySecret`, `key`, or the env var PGVIGIL_AGENT_KEY. */
    keyFile: absolutePath('key file').optional(),
    /**
     * This node's key in an SSM Parameter Store SecureString parameter (the hosts the stack
     * builds): one line, or during a rotation two (the new key, then the previous one). The agent
     * reads it again when a request's signature matches no key it holds, so a rotation needs no
     * restart (lib/agent/agentKeyRing.ts).
     */
    keyParameter: z
      .object({
        name: z
          .string({ error: "give the SSM parameter name (or ARN) of this node's agent key, e.g. /pgvigil/PgVigil/agent-key/orders/pg-b" })
          .regex(/^[A-Za-z0-9_.:/-]+$/, "give the SSM parameter name (or ARN) of this node's agent key: letters, digits and _.-/ only, e.g. /pgvigil/PgVigil/agent-key/orders/pg-b"),
        region: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /**
     * This node's key in Secrets Manager (hosts deployed before the keys moved to SSM): the agent
     * accepts the secret's AWSCURRENT and AWSPREVIOUS values, and reads them again when a
     * request's signature matches neither.
     */
    keySecret: z.object({ secretId: z.string().min(1, 'give the secret ARN or name of this node\'s agent key'), region: z.string().min(1).optional() }).strict().optional(),
    key: z.string().min(32, 'the key must be at least 32 characters; prefer keyFile or PGVIGIL_AGENT_KEY').optional(),
    /** How this node logs in to its peers for replication, rewinds and clones (the host bootstrap writes it); absent: no password, no TLS (old layouts). */
    replicationAuth: z
      .object({ passfile: absolutePath('replication passfile'), sslRootCert: absolutePath("cluster CA certificate (the replication connections' sslrootcert)") })
      .strict()
      .optional(),
    /**
     * HTTPS for the agent channel (issue 15): this host's certificate and key, issued by the
     * cluster CA (the bootstrap's tls/server.crt and server.key). Actions are then taken over TLS
     * only; health and metrics stay on plain HTTP on the same port. Absent: plain HTTP.
     */
    tls: z.object({ certFile: absolutePath("agent's TLS certificate"), keyFile: absolutePath("agent's TLS key") }).strict().optional(),
    /** Where the agent keeps its term file and fence marker. */
    stateDir: absolutePath('state directory'),
    store: StoreConfig.optional(),
    lease: z
      .object({
        ttlMs: z.number().int().min(100, 'the lease TTL must be at least 100 ms'),
        renewEveryMs: z.number().int().min(20, 'renew at least every 20 ms'),
      })
      .strict()
      .refine((l) => l.renewEveryMs < l.ttlMs, { message: 'renewEveryMs must be shorter than ttlMs, or the lease lapses between renewals', path: ['renewEveryMs'] }),
    /** Where WAL segments and base backups go: `archive_command` and the backup action use it. */
    archive: ArchiveTarget.optional(),
    /** The writer VIP (Linux hosts on premises): added on promote, removed on fence, demote and self-fencing. */
    vip: VipConfig.optional(),
    /** Requests whose timestamp is further than this from our clock are refused. */
    maxSkewMs: z.number().int().min(100).max(600_000).default(5_000),
    /** What `pgvigil-agent bootstrap` needs to make this host a node (lib/host/bootstrapConfig.ts). */
    bootstrap: BootstrapConfig.optional(),
    /**
     * The watchdog (lib/agent/watchdog): a process of its own that stops PostgreSQL when the
     * agent stops feeding it while primary (a hung or stopped agent), and with `device` a Linux
     * watchdog device that resets the host if that process or the kernel hangs. Absent: none.
     */
    watchdog: z
      .object({ device: absolutePath('watchdog device (e.g. /dev/watchdog)').optional() }, { error: 'give the watchdog as an object, e.g. {} or { "device": "/dev/watchdog" }' })
      .strict()
      .optional(),
  })
  .strict()
  .refine((c) => [c.key, c.keyFile, c.keyParameter, c.keySecret].filter((k) => k !== undefined).length <= 1, { message: 'give one of key, keyFile, keyParameter and keySecret, not several', path: ['key'] })
  .refine((c) => !c.bootstrap || c.bootstrap.peers.some((p) => p.name === c.node), { message: 'list this node among bootstrap.peers', path: ['bootstrap', 'peers'] })
  .refine((c) => !c.watchdog || c.store, { message: 'the watchdog is fed by lease renewals: configure a store, or remove the watchdog', path: ['watchdog'] })
  // A bootstrapped host logs in to its peers with the files its bootstrap made.
  .transform((c) => (c.bootstrap && !c.replicationAuth ? { ...c, replicationAuth: replicationAuthOf(hostFiles(c.bootstrap.hostDir)) } : c));
export type AgentConfig = z.infer<typeof AgentConfig>;
export type AgentConfigInput = z.input<typeof AgentConfig>;

export function parseAgentConfig(input: unknown): Parsed<AgentConfig> {
  return parseWith(AgentConfig, input, 'agent config');
}

/** Read and parse the config file: one message naming the field when it is bad. */
export function loadAgentConfig(path: string): Parsed<AgentConfig> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { ok: false, reason: `agent config: cannot read ${path}: ${(e as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `agent config: ${path} is not JSON: ${(e as Error).message}` };
  }
  return parseAgentConfig(json);
}

const MIN_KEY_BYTES = 32;

/**
 * The HMAC key from keyFile, key, or PGVIGIL_AGENT_KEY (in that order). Never logged. During a
 * rotation it holds two lines, the new key and the previous one: the agent accepts both
 * (signing.ts), so the control plane may switch at any moment.
 */
export function loadAgentKey(config: AgentConfig, env: NodeJS.ProcessEnv = process.env): Parsed<AgentKeys> {
  let key: string | undefined;
  let from: string;
  if (config.keyFile !== undefined) {
    from = `keyFile ${config.keyFile}`;
    try {
      key = readFileSync(config.keyFile, 'utf8').trim();
    } catch (e) {
      return { ok: false, reason: `agent config: keyFile: cannot read ${config.keyFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}` };
    }
  } else if (config.keyParameter !== undefined) {
    return { ok: false, reason: 'agent config: keyParameter: read it with loadAgentKeyRing (lib/agent/agentKeyRing.ts), which asks SSM Parameter Store' };
  } else if (config.keySecret !== undefined) {
    return { ok: false, reason: 'agent config: keySecret: read it with loadAgentKeyRing (lib/agent/agentKeyRing.ts), which asks Secrets Manager' };
  } else if (config.key !== undefined) {
    from = 'key';
    key = config.key;
  } else {
    from = 'PGVIGIL_AGENT_KEY';
    key = env['PGVIGIL_AGENT_KEY'];
    if (key === undefined || key === '') {
      return { ok: false, reason: 'agent config: keyFile: no key: set keyFile, keyParameter, key, or the environment variable PGVIGIL_AGENT_KEY' };
    }
  }
  const keys = parseKeyLines(key, from);
  if (!keys.ok) return keys;
  return { ok: true, value: keys.value.length === 1 ? keys.value[0]! : keys.value };
}

/**
 * The keys in a key file, parameter or secret: one line, or during a rotation two (the new key, then the
 * previous one), each at least 32 bytes. `from` names the source in the message, never the key.
 */
export function parseKeyLines(text: string, from: string): Parsed<Buffer[]> {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length > 2) return { ok: false, reason: `agent config: the key from ${from} has ${lines.length} lines: give one key, or during a rotation two (the new key, then the previous one)` };
  const keys = lines.map((l) => Buffer.from(l, 'utf8'));
  if (keys.length === 0 || keys.some((k) => k.length < MIN_KEY_BYTES)) {
    return { ok: false, reason: `agent config: the key from ${from} is shorter than ${MIN_KEY_BYTES} bytes: generate one with \`openssl rand -hex 32\`` };
  }
  return { ok: true, value: keys };
}
