import { z } from 'zod';
import { parseWith, type Parsed } from '../domain/parse.ts';

/**
 * How the probe logs in to every node: the monitoring role, its password and TLS. verify-ca
 * checks the chain to the cluster's CA (a node's certificate needs no name the probe knows);
 * require only encrypts, for a deployment that has not handed the probe the CA certificate.
 */
export const ProbeTls = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('verify-ca'), ca: z.string().includes('BEGIN CERTIFICATE', { message: 'give the cluster CA certificate as PEM text' }) }).strict(),
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

/** node-postgres's ssl option for a ProbeTls: verify-ca keeps the chain check and drops only the host name check. */
export function pgSslOption(tls: ProbeTls | undefined): false | { ca?: string; rejectUnauthorized: boolean; checkServerIdentity?: () => undefined } {
  if (!tls) return false;
  if (tls.mode === 'require') return { rejectUnauthorized: false };
  return { ca: tls.ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
}
