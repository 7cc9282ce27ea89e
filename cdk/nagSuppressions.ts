import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { archivePrefixes } from './archive.ts';
import type { PgVigil } from './pgvigil.ts';

/**
 * Every cdk-nag (AwsSolutions) finding pgvigil accepts, each on the one construct it
 * concerns and with the reason it is acceptable. Anything else fails the tests and the synth.
 */
export function suppressWithReasons(pgvigil: PgVigil): void {
  const ack = (scope: Parameters<typeof Validations.of>[0], id: string, reason: string) => Validations.of(scope).acknowledge({ id, reason });
  const { probe, decide, act, notify, streamFailures } = pgvigil.functions;

  for (const fn of [probe, decide, act, notify]) {
    ack(
      fn.role!,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'Lambda log delivery: logs:CreateLogGroup, CreateLogStream and PutLogEvents on "*" (AWS managed policy v1). Broader than the one log group each function writes, but log writes only: no read, no delete.',
    );
    ack(
      fn,
      'AwsSolutions-L1',
      'Node.js 22 is the runtime pgvigil is built and tested for (esbuild target node22, CI); a newer runtime is adopted deliberately, with its own test run.',
    );
  }
  ack(
    pgvigil.functions.vpcAccess.policy,
    'AwsSolutions-IAM5[Resource::*]',
    'The network interface calls the Lambda Developer Guide requires for a function in a VPC (Create/Describe/Delete interfaces, DescribeSubnets, Assign/UnassignPrivateIpAddresses); DescribeNetworkInterfaces works only on "*" and Lambda\'s interfaces are made after the functions. The handlers\' code holds them too: it could create interfaces and move secondary private IPs on any interface in the account and region except those tagged pgvigil:cluster (the database hosts dbHosts builds), which an explicit Deny covers. Hosts you built yourself are covered once you tag their interfaces pgvigil:cluster.',
  );
  for (const fn of [decide, notify]) {
    ack(
      fn.role!,
      'AwsSolutions-IAM5[Resource::*]',
      'dynamodb:ListStreams only (added by the stream event source): it does not support resource-level permissions. Stream reads are scoped to the table stream ARN.',
    );
  }
  for (const fn of [notify, decide]) {
    ack(
      fn.role!,
      'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      "Publishing to the encrypted topic needs GenerateDataKey* on its key (notify: decision alerts; decide: a failed scheduled backup); the statement is scoped to that one key and holds only under the topic's encryption context (aws:sns:topicArn), so it cannot open the archive's data keys, which share the key.",
    );
  }
  ack(
    pgvigil.archive.accessLogs,
    'AwsSolutions-S1',
    'This bucket is the server access log destination of the archive bucket; logging its own access would log into itself. It holds only S3 access records, private and TLS-only.',
  );
  ack(
    streamFailures,
    'AwsSolutions-SQS3',
    'This queue is itself the on-failure destination (dead-letter queue) of the decide and notify stream sources; it needs no DLQ of its own.',
  );
  // The agent key parameters' custom resource acknowledges its own two functions' findings (cdk/agentKeyParameter.ts).

  for (const role of pgvigil.access.agentRoles.values()) {
    ack(
      role,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      'Session Manager access to the database hosts (no SSH, no bastion); AWS maintains this policy as the minimum for SSM.',
    );
  }

  // cdk-nag names a resource by the logical id of the bucket it is in.
  const bucketId = Stack.of(pgvigil).getLogicalId(pgvigil.archive.bucket.node.defaultChild as CfnElement);
  for (const prefix of archivePrefixes) {
    ack(
      pgvigil.access.agentPolicy,
      `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
      `Put/GetObject under ${prefix} of the archive bucket only (WAL puts only with If-None-Match, so never over an existing segment): WAL segment and backup names are made on the host as they are written, so the keys cannot be listed ahead.`,
    );
  }

  const operatorPolicy = pgvigil.access.operatorPolicy;
  for (const prefix of archivePrefixes) {
    ack(
      operatorPolicy,
      `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
      `GetObject under ${prefix} of the archive bucket: pgvigil backups and restore --verify read the backups and WAL the agents wrote, whose names are not known ahead.`,
    );
  }
  ack(
    operatorPolicy,
    `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/backups/*/verification.json]`,
    'PutObject of the verification result beside each backup (restore --verify): backup ids are made when backups are taken. Operators cannot write WAL or backup files.',
  );

  for (const host of pgvigil.dbHosts?.instances ?? []) {
    // The CDK's CloudFormation Validate plugin (cfn-lint), not cdk-nag.
    ack(
      host,
      'CloudFormation-Validate::W9010',
      'The AMI is pinned on purpose (-c dbHostAmi): a parameter or an SSM lookup resolves again at each deploy and replaces every host when AWS publishes a new image. AMI ids are per region: a stack in another region passes its own.',
    );
    ack(
      host,
      'AwsSolutions-EC28',
      'Demo database hosts: the pgvigil probe checks each node every probe interval; 1-minute EC2 detailed monitoring would add cost and no failover signal.',
    );
    ack(
      host,
      'AwsSolutions-EC29',
      'Each node is pinned to a fixed address on its own tagged ENI, which an Auto Scaling group would not keep; termination protection is left off so the demo can be destroyed with its stack.',
    );
  }
}
