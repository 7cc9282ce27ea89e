import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { NodeName } from '../domain/spec.ts';

const absolutePath = (what: string) => z.string({ error: `give the ${what} as an absolute path` }).refine(isAbsolute, `give the ${what} as an absolute path`);

/** Where a secret comes from: a file (generated there, mode 0600, when absent) or a Secrets Manager secret the stack generated. */
export const SecretSource = z.union([
  z.object({ file: absolutePath('secret file') }).strict(),
  z.object({ secretId: z.string().min(1, 'give the secret ARN or name'), region: z.string().min(1).optional() }).strict(),
]);
export type SecretSource = z.infer<typeof SecretSource>;

const cidr = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'give a client range as an IPv4 CIDR, e.g. 10.0.0.0/16');

/**
 * The `bootstrap` section of an agent's config: what `pgvigil-agent bootstrap` needs beyond the
 * agent's own fields (data dir, bindir, port, OS user) to make this host a node of the cluster.
 */
export const BootstrapConfig = z
  .object({
    /** This host's address (the spec's host for this node): the certificate names it. */
    address: z.string().min(1, "give this host's address, e.g. 10.0.1.10"),
    /**
     * The cluster's nodes, this one among them. With no data directory here, the first listed
     * initialises the primary when no other answers as primary; every other one copies the
     * primary and joins as its standby.
     */
    peers: z
      .array(z.object({ name: NodeName, host: z.string().min(1), port: z.number().int().min(1).max(65535) }).strict())
      .min(1, 'list the cluster nodes, this one included'),
    /** Where TLS files, passwords and the server's socket live (not in the data directory). */
    hostDir: absolutePath('host directory (e.g. /var/lib/pgvigil)'),
    /** Who may connect over the network (TLS and scram-sha-256 only). */
    clientCidrs: z.array(cidr).min(1, 'give at least one client range (the VPC CIDR, or the hosts subnet)'),
    /** The spec's wal_receiver_timeout (timing: a silent host is seen after it). */
    walReceiverTimeoutMs: z.number().int().min(100).default(5_000),
    /**
     * The per-cluster CA: a directory every host reads (made there by the first), or a secret the
     * first host fills; with certSecretId, the CA's certificate alone is also put in that secret,
     * for the probe function, which must check the nodes' certificates but never hold the CA key.
     */
    ca: z.union([
      z.object({ dir: absolutePath('CA directory') }).strict(),
      z.object({ secretId: z.string().min(1), certSecretId: z.string().min(1).optional(), region: z.string().min(1).optional() }).strict(),
    ]),
    passwords: z.object({ monitor: SecretSource, replication: SecretSource }).strict(),
    /** archive_command, e.g. `/usr/local/bin/pgvigil-agent archive-push --config /etc/pgvigil/agent.json %p %f`. */
    archiveCommand: z.string().min(1).optional(),
    /** How long a joining host waits for a primary to copy from before giving up (systemd retries). */
    waitForPrimaryMs: z.number().int().min(0).default(600_000),
  })
  .strict()
  .refine((b) => new Set(b.peers.map((p) => p.name)).size === b.peers.length, { message: 'peer names must be unique', path: ['peers'] });
export type BootstrapConfig = z.infer<typeof BootstrapConfig>;
