import { Construct } from 'constructs';
import { Stack, type CustomResource } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { ClusterSpec } from '../lib/domain/spec.ts';
import { agentKeyParameterName } from '../lib/control/agentKeySource.ts';
import { nodeKey } from './access.ts';
import { AgentKeyParameterProvider, parameterArn } from './agentKeyParameter.ts';
import { parameterDecrypt, parameterUse } from './controlKey.ts';

/** What reads a parameter's value: every SSM read that can return one (GetParameters and the history too). */
const parameterReads = ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParameterHistory'];

/**
 * One agent key per node (issue 15, the agent channel), each an SSM Parameter Store SecureString
 * parameter of its own named `<prefix><cluster>/<node>`, so act and decide find a node's key from
 * the target they sign for (lib/control/agentKeySource.ts) and a host's role can be given its own
 * parameter and nothing more. Standard tier: no monthly fee (a Secrets Manager secret each cost
 * 0.40 USD a month). A custom resource makes each one (cdk/agentKeyParameter.ts), since
 * CloudFormation cannot make a SecureString.
 *
 * Each is encrypted under the stack's key (cdk/controlKey.ts), not aws/ssm (which decrypts for
 * every principal of the account through SSM): a reader needs ssm:GetParameter AND kms:Decrypt
 * bound to that parameter's ARN, which only its host and act and decide are given. Any other
 * role's ssm:GetParameter on "*" (AmazonSSMManagedInstanceCore, another stack's hosts) returns
 * nothing it can decrypt. The explicit denies (grantNode) stay: a second boundary within the stack.
 *
 * Rotation is an operator step: `aws ssm put-parameter --overwrite` with two lines (the new key,
 * then the old), later with the new one alone. The agent reads its parameter again at the first
 * request signed with a key it doesn't hold; act and decide within KEY_CACHE_MS (5 minutes).
 * README: "Rotating the agent keys".
 */
export class PgVigilAgentKeys extends Construct {
  /** The parameter names' common start; a node's is `${prefix}${cluster}/${node}`. */
  readonly prefix: string;
  /** By nodeKey(cluster, node): each node's key parameter (its `ref` is the name). */
  readonly parameters: ReadonlyMap<string, CustomResource>;
  readonly provider: AgentKeyParameterProvider;

  constructor(scope: Construct, id: string, props: { clusters: ClusterSpec[]; key: kms.IKey }) {
    super(scope, id);
    this.prefix = `/pgvigil/${Stack.of(this).stackName}/agent-key/`;
    this.provider = new AgentKeyParameterProvider(this, 'Parameters', { key: props.key });
    const parameters = new Map<string, CustomResource>();
    for (const spec of props.clusters) {
      for (const node of spec.nodes) {
        const name = agentKeyParameterName(this.prefix, { cluster: spec.cluster, node: node.name });
        parameters.set(nodeKey(spec.cluster, node.name), this.provider.keyParameter(this, `AgentKey-${spec.cluster}-${node.name}`, { Name: name, Cluster: spec.cluster, Node: node.name, Tier: 'Standard' }));
      }
    }
    this.parameters = parameters;
  }

  /** The name of one node's key parameter (a reference: what refers to it waits for the key to exist); throws naming the node when the specs have no such node. */
  parameterNameOf(cluster: string, node: string): string {
    const parameter = this.parameters.get(nodeKey(cluster, node));
    if (!parameter) throw new Error(`PgVigil: no agent key for ${nodeKey(cluster, node)}: the node is not in the cluster specs`);
    return parameter.ref;
  }

  /** A host reads its own node's key, and is denied every other (its SSM core policy reads any parameter). */
  grantNode(role: iam.IGrantable, cluster: string, node: string): void {
    const own = nodeKey(cluster, node);
    const ownArn = parameterArn(this, this.parameterNameOf(cluster, node));
    role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [ownArn] }));
    role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: parameterDecrypt, resources: [this.provider.key.keyArn], conditions: parameterUse(this, [ownArn]) }));
    const others = [...this.parameters.entries()].filter(([k]) => k !== own).map(([, p]) => parameterArn(this, p.ref));
    if (others.length > 0) role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: parameterReads, resources: others }));
    // A path read returns every parameter beneath it; no agent needs one.
    role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: ['ssm:GetParametersByPath'], resources: ['*'] }));
  }

  /** act and decide sign for every node of the specs: each parameter by its ARN, and where to find them. */
  grantSigner(fn: lambda.Function): void {
    const arns = [...this.parameters.values()].map((p) => parameterArn(this, p.ref));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: arns }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: parameterDecrypt, resources: [this.provider.key.keyArn], conditions: parameterUse(this, arns) }));
    fn.addEnvironment('PGVIGIL_AGENT_KEY_PARAMETER_PREFIX', this.prefix);
  }
}
