import { Construct } from 'constructs';
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { clusterTagKey } from './access.ts';

/**
 * What a Lambda in a VPC needs to set up its network interfaces, as the Lambda Developer Guide
 * lists it ("Configuring a Lambda function to access resources in a VPC", required IAM
 * permissions; the same actions as AWSLambdaVPCAccessExecutionRole v3, without its logs:* on *):
 * Create/Describe/Delete network interfaces, DescribeSubnets, Assign/UnassignPrivateIpAddresses.
 * DescribeNetworkInterfaces works only on "*", and Lambda's own interfaces do not exist before
 * the functions, so the others are on "*" too.
 *
 * The function code holds these permissions as well (they are the execution role's), so an
 * explicit Deny keeps it off the database hosts' interfaces (tagged pgvigil:cluster, as
 * dbHosts tags them): no handler can move a database address or delete a host's interface.
 */
export const lambdaVpcActions = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
];
export const deniedOnDbInterfaces = ['ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses', 'ec2:DeleteNetworkInterface'];

export class LambdaVpcAccess extends Construct {
  readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const stack = Stack.of(this);
    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      description: 'pgvigil Lambdas: the network interface calls Lambda makes for a function in a VPC; never on the database hosts\' interfaces',
      statements: [
        new iam.PolicyStatement({ actions: lambdaVpcActions, resources: ['*'] }),
        new iam.PolicyStatement({
          effect: iam.Effect.DENY,
          actions: deniedOnDbInterfaces,
          resources: [stack.formatArn({ service: 'ec2', resource: 'network-interface', resourceName: '*' })],
          conditions: { Null: { [`aws:ResourceTag/${clusterTagKey}`]: 'false' } },
        }),
      ],
    });
  }

  /** An execution role with log delivery and this policy; CDK adds no VPC policy of its own to a role it is given. */
  role(scope: Construct, id: string): iam.Role {
    return new iam.Role(scope, id, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole'), this.policy],
    });
  }
}
