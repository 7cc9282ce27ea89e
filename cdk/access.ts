import { Construct } from 'constructs';
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { vipTermTag } from '../lib/endpoints/eniVip.ts';

/** The tag on each database host's network interface that scopes who may move the VIP onto it. */
export const clusterTagKey = 'pgvigil:cluster';

export interface AccessProps {
  table: dynamodb.Table;
  decide: lambda.IFunction;
  agentKey: secretsmanager.Secret;
  clusterNames: string[];
  /** Users, groups or roles that run the pgvigil CLI against this deployment. */
  operators: iam.IGrantable[];
}

/** Who may do what from outside the Lambdas: operators (CLI) and the agents on the database hosts. */
export class PgVigilAccess extends Construct {
  readonly operatorPolicy: iam.ManagedPolicy;
  readonly agentRole: iam.Role;
  readonly agentInstanceProfile: iam.InstanceProfile;

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
    props.operators.forEach((op) => props.decide.grantInvoke(op));

    this.agentRole = new iam.Role(this, 'AgentRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'pgvigil agent on a database host: lease, agent key, VIP moves, SSM access',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    props.agentKey.grantRead(this.agentRole);
    // Its lease, and reading the decision log for the spec's members (rule 3) and the commit
    // quorum (rule 2); only this deployment's clusters (the partition key is the cluster name).
    this.agentRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [props.table.tableArn],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': props.clusterNames } },
      }),
    );
    const stack = Stack.of(this);
    this.agentRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: [stack.formatArn({ service: 'ec2', resource: 'network-interface', resourceName: '*' })],
        conditions: { StringEquals: { [`aws:ResourceTag/${clusterTagKey}`]: props.clusterNames } },
      }),
    );
    // The VIP driver records the term that moved the VIP on the interface holding it; that tag only.
    this.agentRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateTags'],
        resources: [stack.formatArn({ service: 'ec2', resource: 'network-interface', resourceName: '*' })],
        conditions: {
          StringEquals: { [`aws:ResourceTag/${clusterTagKey}`]: props.clusterNames },
          'ForAllValues:StringEquals': { 'aws:TagKeys': [vipTermTag] },
        },
      }),
    );
    // Describe calls do not support resource-level permissions.
    this.agentRole.addToPolicy(new iam.PolicyStatement({ actions: ['ec2:DescribeNetworkInterfaces'], resources: ['*'] }));
    this.agentInstanceProfile = new iam.InstanceProfile(this, 'AgentInstanceProfile', { role: this.agentRole });
  }
}
