import { Construct } from 'constructs';
import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { ClusterSpec } from '../lib/domain/spec.ts';
import { agentKeySecretName } from '../lib/control/agentKeySource.ts';
import { nodeKey } from './access.ts';

/**
 * One agent key per node (issue 15, the agent channel), each a secret of its own named
 * `<prefix><cluster>/<node>`, so act and decide find a node's key from the target they sign for
 * (lib/control/agentKeySource.ts) and a host's role can be given its own secret and nothing more.
 *
 * Rotation is an operator step, not a rotation Lambda: `aws secretsmanager put-secret-value` with
 * a new value makes it AWSCURRENT and the old one AWSPREVIOUS. The agent accepts both and reads
 * the secret again at the first request signed with a key it doesn't hold; act and decide read it
 * again within KEY_CACHE_MS (5 minutes). README: "Rotating the agent keys".
 */
export class PgVigilAgentKeys extends Construct {
  /** The secret names' common start; a node's is `${prefix}${cluster}/${node}`. */
  readonly prefix: string;
  /** By nodeKey(cluster, node). */
  readonly secrets: ReadonlyMap<string, secretsmanager.Secret>;

  constructor(scope: Construct, id: string, props: { clusters: ClusterSpec[] }) {
    super(scope, id);
    this.prefix = `pgvigil/${Stack.of(this).stackName}/agent-key/`;
    const secrets = new Map<string, secretsmanager.Secret>();
    for (const spec of props.clusters) {
      for (const node of spec.nodes) {
        const secret = new secretsmanager.Secret(this, `AgentKey-${spec.cluster}-${node.name}`, {
          secretName: agentKeySecretName(this.prefix, { cluster: spec.cluster, node: node.name }),
          description: `pgvigil agent key of ${spec.cluster}/${node.name}: signs the control plane's requests to that node's agent, no other`,
          generateSecretString: { passwordLength: 64, excludePunctuation: true },
        });
        Validations.of(secret).acknowledge({
          id: 'AwsSolutions-SMG4',
          reason: 'Rotated by an operator (put-secret-value): the agent accepts AWSCURRENT and AWSPREVIOUS and rereads the secret on a key it does not hold, so no rotation Lambda is needed (README: rotating the agent keys).',
        });
        secrets.set(nodeKey(spec.cluster, node.name), secret);
      }
    }
    this.secrets = secrets;
  }

  /** The secret of one node; throws naming the node when the specs have no such node. */
  secretOf(cluster: string, node: string): secretsmanager.Secret {
    const secret = this.secrets.get(nodeKey(cluster, node));
    if (!secret) throw new Error(`PgVigil: no agent key for ${nodeKey(cluster, node)}: the node is not in the cluster specs`);
    return secret;
  }

  /** A host reads its own node's key, nothing else of this construct. */
  grantNode(role: iam.IGrantable, cluster: string, node: string): void {
    this.secretOf(cluster, node).grantRead(role);
  }

  /** act and decide sign for every node of the specs: each secret by its ARN, and where to find them. */
  grantSigner(fn: lambda.Function): void {
    for (const secret of this.secrets.values()) secret.grantRead(fn);
    fn.addEnvironment('PGVIGIL_AGENT_KEY_SECRET_PREFIX', this.prefix);
  }
}
