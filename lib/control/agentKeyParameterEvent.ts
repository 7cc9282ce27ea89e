import { randomBytes } from 'node:crypto';
import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { z } from 'zod';
import type { Log } from '../log.ts';
import { parseWith } from '../domain/parse.ts';

/**
 * The custom resource behind each SecureString parameter the stack makes (cdk/agentKeyParameter.ts):
 * each node's agent key, and each cluster's host parameters (cdk/hostSecrets.ts: the monitoring and
 * replication passwords, the cluster CA, its certificate). CloudFormation cannot make a
 * SecureString, so this does, through the CDK's Provider framework.
 *
 * - Create: a new value from node:crypto put as a SecureString, standard tier (no monthly fee),
 *   under KeyId when the resource gives one (else the AWS managed key aws/ssm), with Overwrite false, so a repeated Create never replaces
 *   a value in use (a key, a password, a CA a host put there): an existing parameter is kept.
 * - Update: a new name is a new parameter (Create), and CloudFormation then deletes the old one
 *   (it sends Delete for the old physical id); the same name changes nothing, unless KeyId
 *   changed: a parameter keeps the key it was put under until it is overwritten, so the value
 *   in use is read and put back unchanged under the new key (a key, a password, a host's CA
 *   must keep their value). Every resource gives the stack's key (cdk/agentKeyParameter.ts), so the
 *   deploy that added KeyId moves each parameter made under aws/ssm onto it, once.
 * - Delete: the parameter goes, if it is the one this resource named.
 *
 * The answer is the parameter's name and nothing else: no Data, so no value is ever in the
 * template, a response, the Provider's log or CloudFormation's events. Neither is it logged here.
 */
const Name = z.string().regex(/^\/[A-Za-z0-9_.\-/]+$/, 'give Name as a fully qualified SSM parameter name, e.g. /pgvigil/PgVigil/agent-key/demo/pg-a');
/** Stated in the template, so the cost bench counts it (test/bench/fixedCost.ts): standard parameters carry no monthly fee. */
const Tier = z.literal('Standard', { error: 'Tier: the parameters are standard ones (no monthly fee); give Standard' });
/** The KMS key to put the value under (a key ARN); absent, the AWS managed key aws/ssm, as the resources deployed before it was a property. */
const KeyId = z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, 'KeyId: give the KMS key ARN, e.g. arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab').optional();

export const AgentKeyParameterProps = z.object({
  Name,
  Cluster: z.string().min(1, 'give the Cluster the key is for'),
  Node: z.string().min(1, 'give the Node the key is for'),
  Tier,
  KeyId,
});
export type AgentKeyParameterProps = z.infer<typeof AgentKeyParameterProps>;

/**
 * What each host parameter is for. The CA and its certificate start as a placeholder (no PEM in
 * it) that the bootstrap reads as "no CA yet" / "no certificate yet"; the first host's bootstrap
 * puts the CA, any host's the certificate (lib/host/caSource.ts).
 */
export const hostParameterPurposes = ['monitor-password', 'replication-password', 'cluster-ca', 'cluster-ca-cert'] as const;
export type HostParameterPurpose = (typeof hostParameterPurposes)[number];

export const HostParameterProps = z.object({
  Name,
  Cluster: z.string().min(1, 'give the Cluster the parameter is for'),
  Purpose: z.enum(hostParameterPurposes, { error: `Purpose: give one of ${hostParameterPurposes.join(', ')}` }),
  Tier,
  KeyId,
});
export type HostParameterProps = z.infer<typeof HostParameterProps>;

/** A host parameter's resource carries Purpose; an agent key's never did (its deployed properties stay as they were). */
const ParameterProps = z.unknown().transform((p, ctx) => {
  const schema = p !== null && typeof p === 'object' && 'Purpose' in p ? HostParameterProps : AgentKeyParameterProps;
  const r = schema.safeParse(p);
  if (r.success) return r.data as AgentKeyParameterProps | HostParameterProps;
  for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
});

/** What the Provider framework hands the onEvent handler (CloudFormation's request, without the response URL's use). */
const AgentKeyParameterEvent = z.object({
  RequestType: z.enum(['Create', 'Update', 'Delete'], { error: 'RequestType must be Create, Update or Delete' }),
  ResourceProperties: ParameterProps,
  PhysicalResourceId: z.string().optional(),
  /** An Update's previous properties: only the key they named is read (a resource deployed before KeyId names none). */
  OldResourceProperties: z.looseObject({ KeyId: z.string().optional() }).optional(),
});

/** The generated key: 64 characters, as `openssl rand -hex 32` (README: rotating the agent keys) makes them. */
export const newAgentKey = (): string => randomBytes(32).toString('hex');

/**
 * A password or a placeholder: 40 URL-safe characters (240 bits), nothing a libpq passfile, a
 * conninfo or a SCRAM verifier needs quoted. No PEM in it, so the bootstrap reads a placeholder as none.
 */
export const newHostValue = (): string => randomBytes(30).toString('base64url');

const descriptionOf = (p: AgentKeyParameterProps | HostParameterProps): string => {
  if (!('Purpose' in p)) return `pgvigil agent key of ${p.Cluster}/${p.Node}: signs the control plane's requests to that node's agent, no other`;
  switch (p.Purpose) {
    case 'monitor-password':
      return `pgvigil ${p.Cluster}: pgvigil_monitor's password (pg_monitor only; the probe logs in with it over TLS)`;
    case 'replication-password':
      return `pgvigil ${p.Cluster}: the replication role's password (standbys, pg_basebackup and pg_rewind between the hosts)`;
    case 'cluster-ca':
      return `pgvigil ${p.Cluster}: the cluster CA (certificate and key), put here by the first host's bootstrap; no function reads it`;
    case 'cluster-ca-cert':
      return `pgvigil ${p.Cluster}: the cluster CA's certificate only (no key), put here by the hosts' bootstrap; the probe, act and decide check the nodes against it`;
  }
};

/** `makeValue`: the value of a new parameter (tests fix it); by default newAgentKey for a key, newHostValue for a host parameter. */
export async function agentKeyParameterEvent(input: unknown, ssm: SSMClient, log: Log, makeValue?: () => string): Promise<{ PhysicalResourceId: string }> {
  const parsed = parseWith(AgentKeyParameterEvent, input, 'agent key parameter event');
  if (!parsed.ok) throw new Error(parsed.reason);
  const { RequestType: type, ResourceProperties: p, PhysicalResourceId: physical, OldResourceProperties: old } = parsed.value;
  const what = 'Purpose' in p ? `${p.Purpose} parameter` : 'agent key parameter';
  if (type === 'Delete') {
    // A physical id that is not the name (a failed create's) names nothing of ours.
    if (physical !== p.Name) {
      log({ level: 'info', msg: `${what}: nothing to delete`, physical: physical ?? null });
      return { PhysicalResourceId: physical ?? p.Name };
    }
    try {
      await ssm.send(new DeleteParameterCommand({ Name: p.Name }));
      log({ level: 'info', msg: `${what} deleted`, name: p.Name });
    } catch (e) {
      if ((e as { name?: string }).name !== 'ParameterNotFound') throw new Error(`SSM: cannot delete ${p.Name}: ${(e as Error).message}`);
      log({ level: 'info', msg: `${what} already gone`, name: p.Name });
    }
    return { PhysicalResourceId: p.Name };
  }
  if (type === 'Update' && physical === p.Name) {
    if (p.KeyId === undefined || p.KeyId === old?.KeyId) return { PhysicalResourceId: p.Name };
    // The same parameter under a new key: its value stays (a re-put of a key in use must not change it).
    let value: string | undefined;
    try {
      value = (await ssm.send(new GetParameterCommand({ Name: p.Name, WithDecryption: true }))).Parameter?.Value;
    } catch (e) {
      if ((e as { name?: string }).name !== 'ParameterNotFound') throw new Error(`SSM: cannot read ${p.Name} to put it under ${p.KeyId}: ${(e as Error).message}`);
    }
    if (value !== undefined) {
      try {
        await ssm.send(new PutParameterCommand({ Name: p.Name, Value: value, Type: 'SecureString', Tier: p.Tier, Overwrite: true, KeyId: p.KeyId, Description: descriptionOf(p) }));
      } catch (e) {
        throw new Error(`SSM: cannot put ${p.Name} under ${p.KeyId}: ${(e as Error).message}`);
      }
      log({ level: 'info', msg: `${what} put again under the new key, its value kept`, name: p.Name, keyId: p.KeyId });
      return { PhysicalResourceId: p.Name };
    }
    // Gone meanwhile (deleted by hand): made again, as a Create would.
  }
  try {
    await ssm.send(
      new PutParameterCommand({
        Name: p.Name,
        Value: (makeValue ?? ('Purpose' in p ? newHostValue : newAgentKey))(),
        Type: 'SecureString',
        Tier: p.Tier,
        Overwrite: false,
        ...(p.KeyId ? { KeyId: p.KeyId } : {}),
        Description: descriptionOf(p),
      }),
    );
    log({ level: 'info', msg: `${what} created`, name: p.Name });
  } catch (e) {
    if ((e as { name?: string }).name !== 'ParameterAlreadyExists') throw new Error(`SSM: cannot create ${p.Name}: ${(e as Error).message}`);
    // A Create repeated (or a name taken back): the value there may be in use (a key, a password, a host's CA), so it stays.
    log({ level: 'info', msg: `${what} exists: kept as it is`, name: p.Name });
  }
  return { PhysicalResourceId: p.Name };
}
