import { checkServerIdentity } from 'node:tls';
import { z } from 'zod';
import { parseWith, type Parsed } from '../domain/parse.ts';

/**
 * How the probe logs in to every node: the monitoring role, its password and TLS. verify-full
 * checks the chain to the cluster's CA and that the certificate names the address the probe
 * dialled (the bootstrap names the spec's host in it); verify-ca checks the chain only, for
 * certificates made some other way; require only encrypts, for a deployment that has not
 * handed the probe the CA certificate yet.
 */
const CaPem = z.string().includes('BEGIN CERTIFICATE', { message: 'give the cluster CA certificate as PEM text' });
export const ProbeTls = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('verify-full'), ca: CaPem }).strict(),
  z.object({ mode: z.literal('verify-ca'), ca: CaPem }).strict(),
  z.object({ mode: z.literal('require') }).strict(),
]);
export type ProbeTls = z.infer<typeof ProbeTls>;

export const ProbeLogin = z
  .object({
    user: z.string().min(1, 'give the monitoring role, e.g. pgvigil_monitor'),
    /** Never logged. */
    password: z.string().min(1, 'give the monitoring role\'s password').optional(),
    database: z.string().min(1).optional(),
    ssl: ProbeTls.optional(),
  })
  .strict();
export type ProbeLogin = z.infer<typeof ProbeLogin>;

export function parseProbeLogin(input: unknown): Parsed<ProbeLogin> {
  return parseWith(ProbeLogin, input, 'probe login');
}

type PgSsl = { ca?: string; rejectUnauthorized: boolean; checkServerIdentity?: typeof checkServerIdentity };

/**
 * node-postgres's ssl option for a ProbeTls towards `host`. verify-ca keeps the chain check and
 * drops only the name check. verify-full checks the name against `host` itself: node-postgres
 * sends no server name for an IP address, so Node's own check would have no name to match.
 */
export function pgSslOption(tls: ProbeTls | undefined, host: string): false | PgSsl {
  if (!tls) return false;
  if (tls.mode === 'require') return { rejectUnauthorized: false };
  if (tls.mode === 'verify-ca') return { ca: tls.ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { ca: tls.ca, rejectUnauthorized: true, checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert) };
}
