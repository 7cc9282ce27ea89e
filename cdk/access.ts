import { Construct } from 'constructs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { PgVigilAgentKeys } from './agentKeys.ts';
import type { ClusterSpec } from '../lib/domain/spec.ts';
import { leasePartition } from '../lib/store/partitions.ts';
import { itemStatement } from './storeAccess.ts';

/** The tag on each database host's network interface; the Lambdas' VPC policy denies them these interfaces. */
export const clusterTagKey = 'pgvigil:cluster';

export interface AccessProps {
  table: dynamodb.Table;
  decide: lambda.IFunction;
  /** Each node's agent key: its role reads its own, no other. */
  agentKeys: PgVigilAgentKeys;
  clusters: ClusterSpec[];
  /** Users, groups or roles that run the pgvigil CLI against this deployment. */
  operators: iam.IGrantable[];
  /**
   * The VPC the agents' store and archive requests must come from (aws:SourceVpc, set by the
   * gateway endpoints): credentials taken off a host are no use outside it. Undefined when the
   * stack made no gateway endpoints (the requests may then come through NAT, without the key).
   */
  sourceVpcId?: string;
}

/** The name a node's role and instance profile are known by: cluster and node. */
export const nodeKey = (cluster: string, node: string): string => `${cluster}/${node}`;

/**
 * Who may do what from outside the Lambdas: operators (CLI), and the agent on each database
 * host. Every node has a role of its own, which may write its own lease and nothing else of the
 * store (lib/store/partitions.ts), and read its own agent key and no other (cdk/agentKeys.ts): a
 * compromised host can neither forge a decision, nor renew another node's lease, nor sign for
 * another node's agent. What all agents need (the archive) is one managed policy.
 */
export class PgVigilAccess extends Construct {
  readonly operatorPolicy: iam.ManagedPolicy;
  /** Attached to every node's role: the archive (archive.ts adds it). */
  readonly agentPolicy: iam.ManagedPolicy;
  /** One role per node, by nodeKey(cluster, node). */
  readonly agentRoles: ReadonlyMap<string, iam.Role>;
  readonly agentInstanceProfiles: ReadonlyMap<string, iam.InstanceProfile>;

  constructor(scope: Construct, id: string, props: AccessProps) {
    super(scope, id);
    // Operator commands go through decide, so every write to the decision log has one code path.
    this.operatorPolicy = new iam.ManagedPolicy(this, 'OperatorPolicy', {
      description: 'pgvigil operators: send commands to decide, read cluster state',
      statements: [
        new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [props.decide.functionArn] }),
        new iam.PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:Query'], resources: [props.table.tableArn] }),
      ],
    });
    // The whole policy, not only the invoke: pgvigil status reads the store, backups the archive.
    for (const op of props.operators) {
      if ('addManagedPolicy' in op && typeof op.addManagedPolicy === 'function') (op as iam.IRole).addManagedPolicy(this.operatorPolicy);
      else props.decide.grantInvoke(op);
    }

    const fromVpc = props.sourceVpcId ? { StringEquals: { 'aws:SourceVpc': props.sourceVpcId } } : undefined;
    this.agentPolicy = new iam.ManagedPolicy(this, 'AgentPolicy', {
      description: 'pgvigil agents, every node: the WAL archive',
    });

    const roles = new Map<string, iam.Role>();
    const profiles = new Map<string, iam.InstanceProfile>();
    for (const spec of props.clusters) {
      for (const node of spec.nodes) {
        const name = `${spec.cluster}-${node.name}`;
        const role = new iam.Role(this, `AgentRole-${name}`, {
          assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
          description: `pgvigil agent of ${spec.cluster}/${node.name}: its own lease, the decision log read, the archive`,
          managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore'), this.agentPolicy],
        });
        // Reads: the decision log for the spec's members (rule 3) and the commit quorum (rule 2).
        role.addToPolicy(itemStatement(props.table, ['dynamodb:GetItem', 'dynamodb:Query'], [spec.cluster], fromVpc));
        // Writes: this node's lease, nothing else (renewLease puts, and reads back on a conflict).
        role.addToPolicy(itemStatement(props.table, ['dynamodb:PutItem', 'dynamodb:GetItem'], [leasePartition(spec.cluster, node.name)], fromVpc));
        // Its own agent key only: a host that reads another node's key could sign for that agent.
        props.agentKeys.grantNode(role, spec.cluster, node.name);
        roles.set(nodeKey(spec.cluster, node.name), role);
        profiles.set(nodeKey(spec.cluster, node.name), new iam.InstanceProfile(this, `AgentInstanceProfile-${name}`, { role }));
      }
    }
    this.agentRoles = roles;
    this.agentInstanceProfiles = profiles;
  }

  /** The role of one node; throws naming the node when the spec has no such node. */
  agentRoleOf(cluster: string, node: string): iam.Role {
    const role = this.agentRoles.get(nodeKey(cluster, node));
    if (!role) throw new Error(`PgVigil: no agent role for ${nodeKey(cluster, node)}: the node is not in the cluster specs`);
    return role;
  }
}
