import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { NodeName } from '../domain/spec.ts';

const absolutePath = (what: string) => z.string({ error: `give the ${what} as an absolute path` }).refine(isAbsolute, `give the ${what} as an absolute path`);

const region = z.string().min(1, 'give the region, e.g. eu-west-1, or leave region out').optional();
const parameterName = (what: string) => z.string().regex(/^\/[A-Za-z0-9_.\-/]+$/, `give the ${what} as the SSM parameter's full name, e.g. /pgvigil/PgVigil/host/demo/monitor-password (the stack's outputs)`);

/**
 * Where a secret comes from: a file (generated there, mode 0600, when absent), an SSM SecureString
 * parameter the stack generated (hosts on AWS), or a Secrets Manager secret (hosts set up before
 * the stack moved them to SSM). One of the three: a source naming two is refused.
 */
export const SecretSource = z
  .object({ file: absolutePath('secret file').optional(), parameter: parameterName('parameter').optional(), secretId: z.string().min(1, 'give the secret ARN or name').optional(), region })
  .strict()
  .superRefine((s, ctx) => {
    const given = (['file', 'parameter', 'secretId'] as const).filter((k) => s[k] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: 'custom', message: `give one of file, parameter (SSM) or secretId (Secrets Manager)${given.length > 1 ? `, not ${given.join(' and ')}` : ''}` });
    else if (given[0] === 'file' && s.region !== undefined) ctx.addIssue({ code: 'custom', path: ['region'], message: 'a file source takes no region' });
  })
  .transform((s): { file: string } | { parameter: string; region?: string } | { secretId: string; region?: string } =>
    s.file !== undefined ? { file: s.file } : s.parameter !== undefined ? { parameter: s.parameter, ...(s.region ? { region: s.region } : {}) } : { secretId: s.secretId!, ...(s.region ? { region: s.region } : {}) },
  );
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
     * The per-cluster CA: a directory every host reads (made there by the first), or an SSM
     * parameter the first host fills (a Secrets Manager secret on hosts set up before); with
     * certParameter (certSecretId), the CA's certificate alone is also put there, for the probe,
     * act and decide, which must check the nodes' certificates but never hold the CA key.
     */
    ca: z
      .object({
        dir: absolutePath('CA directory').optional(),
        parameter: parameterName('CA parameter').optional(),
        certParameter: parameterName('CA certificate parameter').optional(),
        /** The KMS key ARN the CA and its certificate are put under (absent: aws/ssm, which decrypts for the whole account through SSM). */
        keyId: z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, 'give the KMS key ARN, e.g. arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab').optional(),
        secretId: z.string().min(1, 'give the CA secret ARN or name').optional(),
        certSecretId: z.string().min(1, 'give the CA certificate secret ARN or name').optional(),
        region,
      })
      .strict()
      .superRefine((c, ctx) => {
        const given = (['dir', 'parameter', 'secretId'] as const).filter((k) => c[k] !== undefined);
        if (given.length !== 1) ctx.addIssue({ code: 'custom', message: `give one of dir, parameter (SSM) or secretId (Secrets Manager)${given.length > 1 ? `, not ${given.join(' and ')}` : ''}` });
        else if (c.certParameter !== undefined && given[0] !== 'parameter') ctx.addIssue({ code: 'custom', path: ['certParameter'], message: 'certParameter goes with parameter (use certSecretId with secretId)' });
        else if (c.keyId !== undefined && given[0] !== 'parameter') ctx.addIssue({ code: 'custom', path: ['keyId'], message: 'keyId goes with parameter (the SSM parameters are put under it)' });
        else if (c.certSecretId !== undefined && given[0] !== 'secretId') ctx.addIssue({ code: 'custom', path: ['certSecretId'], message: 'certSecretId goes with secretId (use certParameter with parameter)' });
        else if (given[0] === 'dir' && c.region !== undefined) ctx.addIssue({ code: 'custom', path: ['region'], message: 'a CA directory takes no region' });
      })
      .transform(
        (c): { dir: string } | { parameter: string; certParameter?: string; keyId?: string; region?: string } | { secretId: string; certSecretId?: string; region?: string } => {
          const r = c.region ? { region: c.region } : {};
          if (c.dir !== undefined) return { dir: c.dir };
          if (c.parameter !== undefined) return { parameter: c.parameter, ...(c.certParameter ? { certParameter: c.certParameter } : {}), ...(c.keyId ? { keyId: c.keyId } : {}), ...r };
          return { secretId: c.secretId!, ...(c.certSecretId ? { certSecretId: c.certSecretId } : {}), ...r };
        },
      ),
    passwords: z.object({ monitor: SecretSource, replication: SecretSource }).strict(),
    /** archive_command, e.g. `/usr/local/bin/pgvigil-agent archive-push --config /etc/pgvigil/agent.json %p %f`. */
    archiveCommand: z.string().min(1).optional(),
    /** How long a joining host waits for a primary to copy from before giving up (systemd retries). */
    waitForPrimaryMs: z.number().int().min(0).default(600_000),
  })
  .strict()
  .refine((b) => new Set(b.peers.map((p) => p.name)).size === b.peers.length, { message: 'peer names must be unique', path: ['peers'] });
export type BootstrapConfig = z.infer<typeof BootstrapConfig>;
