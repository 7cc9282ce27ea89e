import { randomBytes } from 'node:crypto';
import { DeleteParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { z } from 'zod';
import type { Log } from '../log.ts';
import { parseWith } from '../domain/parse.ts';

/**
 * The custom resource behind each node's agent key parameter (cdk/agentKeyParameter.ts):
 * CloudFormation cannot make a SecureString, so this does, through the CDK's Provider framework.
 *
 * - Create: a new key (64 hex characters, 256 bits from node:crypto) put as a SecureString,
 *   standard tier (no monthly fee), under the AWS managed key aws/ssm, with Overwrite false, so a
 *   repeated Create never replaces a key in use: an existing parameter is kept as it is.
 * - Update: a new name is a new parameter (Create), and CloudFormation then deletes the old one
 *   (it sends Delete for the old physical id); the same name changes nothing.
 * - Delete: the parameter goes, if it is the one this resource named.
 *
 * The answer is the parameter's name and nothing else: no Data, so the key is never in the
 * template, a response, the Provider's log or CloudFormation's events. Neither is it logged here.
 */
export const AgentKeyParameterProps = z.object({
  Name: z.string().regex(/^\/[A-Za-z0-9_.\-/]+$/, 'give Name as a fully qualified SSM parameter name, e.g. /pgvigil/PgVigil/agent-key/demo/pg-a'),
  Cluster: z.string().min(1, 'give the Cluster the key is for'),
  Node: z.string().min(1, 'give the Node the key is for'),
  /** Stated in the template, so the cost bench counts it (test/bench/fixedCost.ts): standard parameters carry no monthly fee. */
  Tier: z.literal('Standard', { error: 'Tier: the agent keys are standard parameters (no monthly fee); give Standard' }),
});
export type AgentKeyParameterProps = z.infer<typeof AgentKeyParameterProps>;

/** What the Provider framework hands the onEvent handler (CloudFormation's request, without the response URL's use). */
const AgentKeyParameterEvent = z.object({
  RequestType: z.enum(['Create', 'Update', 'Delete'], { error: 'RequestType must be Create, Update or Delete' }),
  ResourceProperties: AgentKeyParameterProps,
  PhysicalResourceId: z.string().optional(),
});

/** The generated key: 64 characters, as `openssl rand -hex 32` (README: rotating the agent keys) makes them. */
export const newAgentKey = (): string => randomBytes(32).toString('hex');

export async function agentKeyParameterEvent(input: unknown, ssm: SSMClient, log: Log, makeKey: () => string = newAgentKey): Promise<{ PhysicalResourceId: string }> {
  const parsed = parseWith(AgentKeyParameterEvent, input, 'agent key parameter event');
  if (!parsed.ok) throw new Error(parsed.reason);
  const { RequestType: type, ResourceProperties: p, PhysicalResourceId: physical } = parsed.value;
  if (type === 'Delete') {
    // A physical id that is not the name (a failed create's) names nothing of ours.
    if (physical !== p.Name) {
      log({ level: 'info', msg: 'agent key parameter: nothing to delete', physical: physical ?? null });
      return { PhysicalResourceId: physical ?? p.Name };
    }
    try {
      await ssm.send(new DeleteParameterCommand({ Name: p.Name }));
      log({ level: 'info', msg: 'agent key parameter deleted', name: p.Name });
    } catch (e) {
      if ((e as { name?: string }).name !== 'ParameterNotFound') throw new Error(`SSM: cannot delete ${p.Name}: ${(e as Error).message}`);
      log({ level: 'info', msg: 'agent key parameter already gone', name: p.Name });
    }
    return { PhysicalResourceId: p.Name };
  }
  if (type === 'Update' && physical === p.Name) return { PhysicalResourceId: p.Name };
  try {
    await ssm.send(
      new PutParameterCommand({
        Name: p.Name,
        Value: makeKey(),
        Type: 'SecureString',
        Tier: p.Tier,
        Overwrite: false,
        Description: `pgvigil agent key of ${p.Cluster}/${p.Node}: signs the control plane's requests to that node's agent, no other`,
      }),
    );
    log({ level: 'info', msg: 'agent key parameter created', name: p.Name });
  } catch (e) {
    if ((e as { name?: string }).name !== 'ParameterAlreadyExists') throw new Error(`SSM: cannot create ${p.Name}: ${(e as Error).message}`);
    // A Create repeated (or a name taken back): the key there may be in use, so it stays.
    log({ level: 'info', msg: 'agent key parameter exists: kept as it is', name: p.Name });
  }
  return { PhysicalResourceId: p.Name };
}
