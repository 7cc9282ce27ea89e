import { TimingSpec } from '../../lib/domain/spec.ts';
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Match } from 'aws-cdk-lib/assertions';
import { PgVigil } from '../../cdk/pgvigil.ts';
import { stackPropsFromContext } from '../../cdk/appContext.ts';
import { fullProps, hostProps, resourcesOf, synthStack } from './stackFixture.ts';
import { lambdaBundling } from '../../cdk/bundling.ts';

const { stack, template } = synthStack(fullProps);

/** The logical id of the Lambda whose POWERTOOLS_SERVICE_NAME is pgvigil-<name>. */
function fnId(name: string): string {
  const found = resourcesOf(template, 'AWS::Lambda::Function').find(([, p]) => p.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === `pgvigil-${name}`);
  assert.ok(found, `no ${name} function`);
  return found[0];
}

describe('PgVigil stack: store', () => {
  test('one DynamoDB table: cluster/sk keys, on-demand, NEW_IMAGE stream, TTL expiresAt, PITR, deletion protection, retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [
          { AttributeName: 'cluster', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([{ AttributeName: 'cluster', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }]),
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });
});

describe('PgVigil stack: handlers', () => {
  test('four handlers: Node.js 22 on arm64, in the VPC, with the environment the handlers read', () => {
    // The agent keys' custom resource brings two functions of its own (agentKeys.unit): not handlers.
    const fns = resourcesOf(template, 'AWS::Lambda::Function').filter(([, p]) => p.Environment?.Variables?.POWERTOOLS_SERVICE_NAME !== undefined);
    assert.equal(fns.length, 4);
    for (const [, p] of fns) {
      assert.equal(p.Runtime, 'nodejs22.x');
      assert.deepEqual(p.Architectures, ['arm64']);
      assert.equal(p.Handler, 'index.handler');
      assert.ok(p.VpcConfig?.SubnetIds?.length >= 2, 'in the private subnets');
      assert.equal(p.VpcConfig.SecurityGroupIds.length, 1);
      const env = p.Environment.Variables;
      // Each node's agent key: only the functions that sign are told where (agentKeys.unit).
      for (const key of ['PGVIGIL_TABLE', 'PGVIGIL_CLUSTERS', 'PGVIGIL_TOPIC_ARN', 'PGVIGIL_ENDPOINTS', 'POWERTOOLS_SERVICE_NAME']) {
        assert.ok(env[key] !== undefined, `${key} is set`);
      }
      assert.equal(env.POWERTOOLS_METRICS_NAMESPACE, 'pgvigil');
    }
  });

  test('PGVIGIL_CLUSTERS is the parsed demo spec; PGVIGIL_ENDPOINTS names the zone and records', () => {
    const env = template.toJSON().Resources[fnId('decide')].Properties.Environment.Variables;
    const clusters = JSON.parse(env.PGVIGIL_CLUSTERS);
    assert.equal(clusters.length, 1);
    assert.equal(clusters[0].cluster, 'demo');
    assert.deepEqual(clusters[0].nodes.map((n: { name: string }) => n.name), ['pg-a', 'pg-b', 'pg-c']);
    assert.deepEqual(clusters[0].timing, TimingSpec.parse({}), 'defaults filled in by the spec schema');
    assert.deepEqual(JSON.parse(env.PGVIGIL_ENDPOINTS), {
      route53: { zoneId: 'Z0123456789ABC', writerName: 'writer.db.internal', readerName: 'reader.db.internal', ttl: 5 },
    });
  });

  test('probe runs 70 s (it stops ~5 s before); decide 60 s; notify 30 s', () => {
    const timeout = (name: string) => template.toJSON().Resources[fnId(name)].Properties.Timeout;
    assert.deepEqual([timeout('probe'), timeout('decide'), timeout('notify')], [70, 60, 30]);
  });

  test('bundled by local esbuild, never Docker: ESM, minified, no source map', () => {
    assert.equal(lambdaBundling.forceDockerBundling, false);
    assert.equal(lambdaBundling.format, 'esm');
    assert.equal(lambdaBundling.minify, true);
    assert.equal(lambdaBundling.sourceMap, false);
  });

  test('the demo without hosts probes nothing: its probe and tick schedules are disabled, and an output says why; with hosts they run', () => {
    const states = (t: typeof template) =>
      resourcesOf(t, 'AWS::Events::Rule')
        .filter(([, p]) => !p.Targets[0].Input?.includes('pgvigil.schedule'))
        .map(([, p]) => p.State);
    assert.deepEqual(states(template), ['DISABLED', 'DISABLED']);
    const watching = Object.entries<{ Value: string; Description: string }>(template.toJSON().Outputs).find(([k]) => k.includes('Watching'))![1];
    assert.equal(watching.Value, 'nothing');
    assert.match(watching.Description, /no host holds the demo addresses, so probing, the decide tick and backups are off.*-c dbHosts=true/);
    const withHosts = synthStack(hostProps).template;
    assert.deepEqual(states(withHosts), ['ENABLED', 'ENABLED']);
    assert.equal(Object.entries<{ Value: string }>(withHosts.toJSON().Outputs).find(([k]) => k.includes('Watching'))![1].Value, 'demo (3 nodes)');
    // Your own clusters are watched as soon as they are deployed.
    const own = synthStack({ clusters: [{ cluster: 'orders', nodes: [{ name: 'a', host: '10.42.3.20', port: 5432, agent: 'http://10.42.3.20:8008' }] }] }).template;
    assert.deepEqual(states(own), ['ENABLED', 'ENABLED']);
  });

  test('probe and decide tick every minute from EventBridge, without retries', () => {
    // The backup schedule is the only other rule (test/cdk/archive.unit.test.ts).
    const all = resourcesOf(template, 'AWS::Events::Rule');
    const rules = all.filter(([, p]) => !p.Targets[0].Input?.includes('pgvigil.schedule'));
    assert.equal(all.length - rules.length, 1);
    assert.equal(rules.length, 2);
    const targets = rules.map(([, p]) => {
      assert.equal(p.ScheduleExpression, 'rate(1 minute)');
      assert.equal(p.Targets[0].RetryPolicy.MaximumRetryAttempts, 0);
      return p.Targets[0].Arn['Fn::GetAtt'][0];
    });
    assert.deepEqual(targets.sort(), [fnId('decide'), fnId('probe')].sort());
  });

  test('decide reads the stream: observations and agents\' wakes only (lease renewals would only cost runs), bisect, bounded retries and age, failure queue, partial batch responses', () => {
    const [[, mapping]] = resourcesOf(template, 'AWS::Lambda::EventSourceMapping').filter(([, p]) => p.FunctionName.Ref === fnId('decide')) as [[string, Record<string, any>]];
    assert.equal(mapping.StartingPosition, 'LATEST');
    assert.equal(mapping.BisectBatchOnFunctionError, true);
    assert.equal(mapping.MaximumRetryAttempts, 3);
    assert.equal(mapping.MaximumRecordAgeInSeconds, 900);
    assert.deepEqual(mapping.FunctionResponseTypes, ['ReportBatchItemFailures']);
    assert.ok(mapping.DestinationConfig.OnFailure.Destination['Fn::GetAtt'], 'on-failure destination set');
    const patterns = mapping.FilterCriteria.Filters.map((f: { Pattern: string }) => JSON.parse(f.Pattern));
    assert.deepEqual(patterns, [
      { eventName: ['INSERT', 'MODIFY'], dynamodb: { Keys: { sk: { S: [{ prefix: 'O#' }] } } } },
      { eventName: ['INSERT', 'MODIFY'], dynamodb: { Keys: { sk: { S: [{ prefix: 'W#' }] } } } },
    ]);
    // Two readers of the stream's shards, no third (Lambda throttles a third): decide passes wakes to the probe.
    assert.equal(resourcesOf(template, 'AWS::Lambda::EventSourceMapping').length, 2);
  });

  test('on-wake probe (synchronous clusters): every handler is told the cadence, decide may start the probe and is told its name', () => {
    for (const name of ['probe', 'decide', 'act', 'notify']) assert.equal(template.toJSON().Resources[fnId(name)].Properties.Environment.Variables.PGVIGIL_PROBE_CADENCE, 'on-wake', name);
    const decideEnv = template.toJSON().Resources[fnId('decide')].Properties.Environment.Variables;
    assert.deepEqual(decideEnv.PGVIGIL_PROBE_FUNCTION, { Ref: fnId('probe') });
    const decideRole = template.toJSON().Resources[fnId('decide')].Properties.Role['Fn::GetAtt'][0];
    const invokes = resourcesOf(template, 'AWS::IAM::Policy')
      .filter(([, p]) => p.Roles.some((r: { Ref: string }) => r.Ref === decideRole))
      .flatMap(([, p]) => p.PolicyDocument.Statement)
      .filter((st: { Action: string | string[] }) => st.Action === 'lambda:InvokeFunction');
    assert.ok(invokes.some((st: { Resource: unknown }) => JSON.stringify(st.Resource) === JSON.stringify({ 'Fn::GetAtt': [fnId('probe'), 'Arn'] })), 'decide may invoke the probe function itself, not its versions');
  });

  test('an async cluster deploys the always-on probe, and on-wake with it is refused naming the way out', () => {
    const asyncClusters = stack.pgvigil.clusters.map((c) => ({ ...c, replication: { mode: 'async' as const, maximumLagOnFailover: 1024 * 1024 } }));
    const t = synthStack({ ...fullProps, clusters: asyncClusters }).template.toJSON();
    const probe = Object.values(t.Resources as Record<string, { Type: string; Properties: any }>).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'pgvigil-probe');
    assert.equal(probe!.Properties.Environment.Variables.PGVIGIL_PROBE_CADENCE, 'always');
    assert.throws(() => synthStack({ ...fullProps, clusters: asyncClusters, probeCadence: 'on-wake' }), /use probeCadence 'always'/);
    const ctx = stackPropsFromContext({ probe: 'sometimes' });
    assert.ok(!ctx.ok && /probe: give probe=on-wake or probe=always/.test(ctx.reason), !ctx.ok ? ctx.reason : 'accepted');
  });

  test('notify reads decision inserts only', () => {
    const [[, mapping]] = resourcesOf(template, 'AWS::Lambda::EventSourceMapping').filter(([, p]) => p.FunctionName.Ref === fnId('notify')) as [[string, Record<string, any>]];
    assert.deepEqual(mapping.FilterCriteria.Filters.map((f: { Pattern: string }) => JSON.parse(f.Pattern)), [
      { eventName: ['INSERT'], dynamodb: { Keys: { sk: { S: [{ prefix: 'D#' }] } } } },
    ]);
    assert.deepEqual(mapping.FunctionResponseTypes, ['ReportBatchItemFailures']);
  });

  test('the failure queue is encrypted and refuses plain HTTP', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });
});

describe('PgVigil stack: alerts, secret, network', () => {
  test("the agent keys are SSM parameters made at deploy by the stack's custom resource, one per node, no secret", () => {
    const keys = resourcesOf(template, 'Custom::PgVigilAgentKeyParameter');
    assert.deepEqual(keys.map(([, p]) => p.Name).sort(), ['pg-a', 'pg-b', 'pg-c'].map((n) => `/pgvigil/PgVigilTest/agent-key/demo/${n}`));
    assert.equal(resourcesOf(template, 'AWS::SecretsManager::Secret').filter(([id]) => id.includes('AgentKey')).length, 0);
    // The handler that makes them: the stack's runtime, outside the VPC (it calls SSM only), with no environment of its own.
    const handlers = resourcesOf(template, 'AWS::Lambda::Function').filter(([, p]) => /agent keys and the hosts' passwords and CA as SSM SecureString parameters/.test(p.Description ?? ''));
    assert.equal(handlers.length, 1);
    const [, h] = handlers[0]!;
    assert.equal(h.Runtime, 'nodejs22.x');
    assert.deepEqual(h.Architectures, ['arm64']);
    assert.equal(h.VpcConfig, undefined);
    assert.equal(h.Environment, undefined);
  });

  test('the topic is KMS-encrypted (rotating key), refuses plain HTTP, and has the e-mail and HTTPS subscriptions', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'https', Endpoint: 'https://hooks.example.com/pgvigil' });
  });

  test('the Lambdas reach PostgreSQL (5432) and the agents (8008) on the database hosts', () => {
    const ingress = resourcesOf(template, 'AWS::EC2::SecurityGroupIngress').map(([, p]) => p.FromPort);
    assert.ok(ingress.includes(5432));
    assert.ok(ingress.includes(8008));
  });

});

describe('PgVigil stack: least privilege', () => {
  const policies = resourcesOf(template, 'AWS::IAM::Policy');
  const statementsOf = (roleFragment: string) =>
    policies.filter(([, p]) => JSON.stringify(p.Roles).includes(roleFragment)).flatMap(([, p]) => p.PolicyDocument.Statement as Array<Record<string, any>>);

  test('act (which carries out the endpoints intent) may change only the writer, reader and term records, in the one zone', () => {
    const r53 = statementsOf('act').find((s) => s.Action === 'route53:ChangeResourceRecordSets');
    assert.ok(r53);
    assert.match(JSON.stringify(r53.Resource), /hostedzone\/Z0123456789ABC/);
    assert.deepEqual(r53.Condition['ForAllValues:StringEquals']['route53:ChangeResourceRecordSetsNormalizedRecordNames'], [
      'writer.db.internal',
      'reader.db.internal',
      '_pgvigil-term.writer.db.internal',
    ]);
    assert.equal(statementsOf('probe').some((s) => String(s.Action).startsWith('route53')), false, 'probe has no Route 53 rights');
  });

  test('the handlers get the documented Lambda VPC calls, not AWSLambdaVPCAccessExecutionRole, and never on the database hosts\' interfaces', () => {
    const roles = resourcesOf(template, 'AWS::IAM::Role').filter(([, p]) => JSON.stringify(p.AssumeRolePolicyDocument).includes('lambda.amazonaws.com'));
    assert.ok(roles.length >= 3);
    for (const [id, p] of roles) assert.doesNotMatch(JSON.stringify(p.ManagedPolicyArns ?? []), /AWSLambdaVPCAccessExecutionRole/, `${id}`);
    const vpc = resourcesOf(template, 'AWS::IAM::ManagedPolicy').find(([, p]) => JSON.stringify(p.PolicyDocument).includes('ec2:CreateNetworkInterface'));
    assert.ok(vpc, 'one policy for the Lambda VPC calls');
    const [vpcId, vpcPolicy] = vpc;
    for (const name of ['probe', 'decide', 'notify']) {
      const [, role] = roles.find(([id]) => id.includes(name))!;
      assert.ok(JSON.stringify(role.ManagedPolicyArns).includes(vpcId), `${name} has it`);
    }
    const deny = vpcPolicy.PolicyDocument.Statement.find((s: Record<string, any>) => s.Effect === 'Deny');
    assert.deepEqual(deny.Action, ['ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses', 'ec2:DeleteNetworkInterface']);
    assert.deepEqual(deny.Condition, { Null: { 'aws:ResourceTag/pgvigil:cluster': 'false' } });
  });

  test('no handler may delete or scan the store; notify publishes and never reads the agent key', () => {
    for (const name of ['probe', 'decide', 'notify']) {
      const actions = statementsOf(name).flatMap((s) => [s.Action].flat());
      assert.equal(actions.includes('dynamodb:DeleteItem'), false, `${name} cannot delete`);
      assert.equal(actions.includes('dynamodb:Scan'), false, `${name} cannot scan`);
    }
    const notify = statementsOf('notify').flatMap((s) => [s.Action].flat());
    assert.ok(notify.includes('sns:Publish'));
    assert.equal(notify.includes('secretsmanager:GetSecretValue'), false);
  });

  test('notify, and no other role, may put events, and only on the default bus of the stack\'s account and region', () => {
    const puts = policies.flatMap(([, p]) =>
      (p.PolicyDocument.Statement as Array<Record<string, any>>).filter((s) => [s.Action].flat().includes('events:PutEvents')).map((s) => ({ roles: JSON.stringify(p.Roles), s })),
    );
    assert.equal(puts.length, 1, 'one statement grants events:PutEvents');
    const [{ roles, s }] = puts as [{ roles: string; s: Record<string, any> }];
    assert.match(roles, /notify/i);
    assert.doesNotMatch(roles, /probe|decide|Agent/i);
    assert.deepEqual(s.Action, 'events:PutEvents');
    assert.deepEqual(s.Resource, {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':event-bus/default']],
    });
    const managed = resourcesOf(template, 'AWS::IAM::ManagedPolicy').flatMap(([, p]) => p.PolicyDocument.Statement as Array<Record<string, any>>);
    assert.equal(managed.some((m) => [m.Action].flat().includes('events:PutEvents')), false, 'operators cannot put pgvigil events');
    const [, notifyFn] = resourcesOf(template, 'AWS::Lambda::Function').find(([id]) => id === fnId('notify'))!;
    assert.equal(notifyFn.Environment.Variables.PGVIGIL_DECISION_EVENTS, 'on');
  });

  test('decisionEvents: false leaves notify on SNS only, without events:PutEvents', () => {
    const off = synthStack({ ...fullProps, decisionEvents: false }).template;
    const statements = resourcesOf(off, 'AWS::IAM::Policy').flatMap(([, p]) => p.PolicyDocument.Statement as Array<Record<string, any>>);
    assert.equal(statements.some((s) => [s.Action].flat().includes('events:PutEvents')), false);
    const notifyFn = resourcesOf(off, 'AWS::Lambda::Function').find(([, p]) => p.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'pgvigil-notify');
    assert.equal(notifyFn?.[1].Environment.Variables.PGVIGIL_DECISION_EVENTS, 'off');
  });

  test('operators get a managed policy to invoke decide; its name and ARN are outputs', () => {
    const [, policy] = resourcesOf(template, 'AWS::IAM::ManagedPolicy').find(([, p]) => JSON.stringify(p.PolicyDocument).includes('lambda:InvokeFunction'))!;
    const invoke = policy.PolicyDocument.Statement.find((s: { Action: string }) => s.Action === 'lambda:InvokeFunction');
    assert.deepEqual(invoke.Resource, { 'Fn::GetAtt': [fnId('decide'), 'Arn'] });
    const outputs = Object.keys(template.toJSON().Outputs);
    for (const name of ['DecideFunctionName', 'DecideFunctionArn', 'OperatorPolicyArn', 'TableName', 'AlertTopicArn', 'AgentKeyParameterPrefix', 'AgentInstanceProfiledemopga', 'ArchiveBucketName']) {
      assert.ok(outputs.some((o) => o.includes(name)), `output ${name}`);
    }
  });
});

describe('PgVigil stack: optional database hosts', () => {
  const hosts = synthStack(hostProps).template;

  test('three Graviton instances, one per node, on their own tagged ENIs at the spec addresses, encrypted EBS, IMDSv2', () => {
    const instances = resourcesOf(hosts, 'AWS::EC2::Instance');
    assert.equal(instances.length, 3);
    for (const [, p] of instances) {
      assert.equal(p.InstanceType, 't4g.small');
      assert.equal(p.BlockDeviceMappings[0].Ebs.Encrypted, true);
      assert.equal(p.SubnetId, undefined, 'the address lives on the ENI');
      assert.equal(p.NetworkInterfaces[0].DeviceIndex, '0');
    }
    template.resourceCountIs('AWS::EC2::NetworkInterface', 0); // none without dbHosts
    const enis = resourcesOf(hosts, 'AWS::EC2::NetworkInterface');
    assert.deepEqual(enis.map(([, p]) => p.PrivateIpAddress).sort(), ['10.42.3.10', '10.42.4.10', '10.42.5.10']);
    for (const [, p] of enis) assert.deepEqual(p.Tags, [{ Key: 'pgvigil:cluster', Value: 'demo' }]);
    for (const [, p] of instances) assert.equal(p.MetadataOptions.HttpTokens, 'required', 'IMDSv2 only');
  });

  const all = hosts.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string }>;
  /** The subnet a node's ENI sits in, and that subnet's zone expression. */
  const zoneOfEni = (eniRef: Record<string, any>) => {
    const eni = all[eniRef.Ref]!.Properties;
    return JSON.stringify(all[eni.SubnetId.Ref]!.Properties.AvailabilityZone);
  };

  test('three nodes over three Availability Zones, one each (losing a zone leaves a quorum)', () => {
    const zones = resourcesOf(hosts, 'AWS::EC2::Instance').map(([, p]) => zoneOfEni(p.NetworkInterfaces[0].NetworkInterfaceId));
    assert.equal(new Set(zones).size, 3, zones.join(' '));
    // The control-plane-only demo spreads the same way: its spec is what the hosts are built from.
    const clusters = JSON.parse(template.toJSON().Resources[fnId('decide')].Properties.Environment.Variables.PGVIGIL_CLUSTERS);
    assert.deepEqual(clusters[0].nodes.map((n: { host: string }) => n.host), ['10.42.3.10', '10.42.4.10', '10.42.5.10']);
  });

  test('the AMI is the pinned one from context, never a per-deploy lookup; none given stops the synth naming the lookup', () => {
    for (const [, p] of resourcesOf(hosts, 'AWS::EC2::Instance')) assert.equal(p.ImageId, 'ami-0123456789abcdef0');
    assert.equal(Object.keys(hosts.toJSON().Parameters ?? {}).some((k) => /ami|SsmParameter/i.test(k)), false, 'no SSM image parameter');
    assert.throws(() => synthStack({ ...fullProps, dbHosts: true }), /dbHostAmi=.*aws ssm get-parameter --name \/aws\/service\/ami-amazon-linux-latest\/al2023-ami-kernel-default-arm64/);
    assert.deepEqual(stackPropsFromContext({ dbHosts: 'true', dbHostAmi: 'ami-0123456789abcdef0' }).ok, true);
    assert.deepEqual(stackPropsFromContext({ dbHostAmi: 'latest' }), { ok: false, reason: 'cdk context (-c): dbHostAmi: give an AMI id like ami-0123456789abcdef0' });
  });

  test('each node\'s data is on its own encrypted gp3 volume in the node\'s zone, snapshotted on delete or replacement, attached to its host', () => {
    const volumes = resourcesOf(hosts, 'AWS::EC2::Volume');
    assert.equal(volumes.length, 3);
    const attachments = resourcesOf(hosts, 'AWS::EC2::VolumeAttachment');
    assert.equal(attachments.length, 3);
    for (const [id, p] of volumes) {
      assert.equal(p.Encrypted, true);
      assert.equal(p.VolumeType, 'gp3');
      assert.equal(p.Size, 20);
      assert.equal(all[id]!.DeletionPolicy, 'Snapshot');
      assert.equal(all[id]!.UpdateReplacePolicy, 'Snapshot');
      const [, attachment] = attachments.find(([, a]) => a.VolumeId.Ref === id)!;
      const instance = all[attachment.InstanceId.Ref]!.Properties;
      assert.equal(JSON.stringify(p.AvailabilityZone), zoneOfEni(instance.NetworkInterfaces[0].NetworkInterfaceId), 'same zone as its host');
    }
    for (const [, p] of resourcesOf(hosts, 'AWS::EC2::Instance')) {
      assert.equal(p.BlockDeviceMappings.length, 1, 'the root volume only; data is not on it');
      assert.equal(p.BlockDeviceMappings[0].Ebs.VolumeSize, 10);
    }
  });

  test('user data mounts the data volume (made once, mounted by UUID) before PostgreSQL, and leaves the data directory to the bootstrap', () => {
    for (const [, p] of resourcesOf(hosts, 'AWS::EC2::Instance')) {
      const script = JSON.stringify(p.UserData);
      const volume = script.indexOf('DATA_VOLUME=');
      assert.ok(volume > 0 && volume < script.indexOf('dnf install'), 'the volume is mounted before the packages land on it');
      assert.match(script, /blkid \\"\$DATA_DEV\\" >\/dev\/null \|\| mkfs\.xfs/);
      assert.match(script, /UUID=.* \/var\/lib\/pgsql xfs defaults,noatime,nofail/);
      assert.match(script, /RequiresMountsFor=\/var\/lib\/pgsql/);
    }
    const scripts = resourcesOf(hosts, 'AWS::EC2::Instance').map(([, p]) => JSON.stringify(p.UserData));
    // initdb, the copy of a standby and every configuration file are the bootstrap's (lib/host/bootstrap.ts).
    assert.deepEqual(scripts.map((s) => s.includes('initdb')), [false, false, false]);
  });

  test("a new agent build changes no host's user data: the bundle's S3 object is named by a parameter the host reads at boot", () => {
    // EC2 changes user data only on a stopped instance: CloudFormation would stop and start every host at once.
    const [paramId, param] = resourcesOf(hosts, 'AWS::SSM::Parameter').filter(([, p]) => /agent-bundle$/.test(String(p.Name)))[0]!;
    assert.equal(param.Name, '/pgvigil/PgVigilTest/host/demo/agent-bundle');
    assert.equal(param.Type, 'String', 'a location, not a secret');
    const url = JSON.stringify(param.Value);
    const key = /([0-9a-f]{64}\.zip)/.exec(url)?.[1];
    assert.ok(key, `the parameter holds the bundle's object: ${url}`);
    for (const [, p] of resourcesOf(hosts, 'AWS::EC2::Instance')) {
      const script = JSON.stringify(p.UserData);
      assert.ok(!script.includes(key!), 'the bundle key is not in the user data');
      assert.doesNotMatch(script, /[0-9a-f]{64}/, 'no content hash of any asset');
      assert.ok(script.includes(`--name '",{"Ref":"${paramId}"},"' --query Parameter.Value --output text)`), 'the bundle is found from the parameter at boot');
      const fetch = script.indexOf('aws s3 cp \\"$BUNDLE_URL\\" /opt/pgvigil/agent.zip');
      assert.ok(fetch > script.indexOf('apt-get install') && fetch < script.indexOf('unzip -o /opt/pgvigil/agent.zip'), 'fetched after the packages (the AWS CLI is one on Debian), before the unzip');
    }
    const statements = resourcesOf(hosts, 'AWS::IAM::ManagedPolicy').flatMap(([, p]) => p.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const reads = statements.filter((st) => [st.Action].flat().includes('ssm:GetParameter') && JSON.stringify(st.Resource).includes(paramId!));
    assert.equal(reads.length, 1, 'the hosts may read the parameter');
  });

  test('every host bootstraps before its agent starts (systemd ExecStartPre); PostgreSQL stops with the agent; dnf or apt', () => {
    for (const [, p] of resourcesOf(hosts, 'AWS::EC2::Instance')) {
      const script = JSON.stringify(p.UserData);
      assert.match(script, /ExecStartPre=\/usr\/local\/bin\/pgvigil-agent bootstrap --config \/etc\/pgvigil\/agent\.json/);
      assert.match(script, /KillMode=process/);
      assert.match(script, /pgvigil-postgresql\.service[\s\S]*BindsTo=pgvigil-agent\.service/);
      assert.match(script, /if command -v dnf[\s\S]*elif command -v apt-get[\s\S]*create_main_cluster = false/);
      assert.doesNotMatch(script, /trust/);
    }
  });

  test('user data installs PostgreSQL 15 and the agent as the pgvigil-agent systemd service, its key read from SSM Parameter Store by the agent', () => {
    const [, first] = resourcesOf(hosts, 'AWS::EC2::Instance')[0]!;
    const script = JSON.stringify(first.UserData);
    assert.match(script, /dnf install -y postgresql15-server/);
    assert.match(script, /pgvigil-agent\.service/);
    assert.match(script, /ExecStart=\/usr\/local\/bin\/pgvigil-agent --config \/etc\/pgvigil\/agent\.json/);
    assert.match(script, /keyParameter/);
    assert.doesNotMatch(script, /"key":/, 'the HMAC key is never in user data');
  });
});

describe('PgVigil construct: bad input', () => {
  test('a bad cluster spec stops the synth with the field named', () => {
    assert.throws(
      () => synthStack({ clusters: [{ cluster: 'Demo', nodes: [] } as never] }),
      /clusters\[0\]: cluster spec: cluster: use 1-31 lowercase letters/,
    );
  });

  test('your own VPC needs your cluster specs', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const own = new Stack(app, 'Own');
    assert.throws(() => new PgVigil(own, 'PgVigil', { vpc: new ec2.Vpc(own, 'Vpc') }), /clusters: give the cluster specs of the databases in your VPC/);
    assert.equal(stack.pgvigil.network.isDemoVpc, true);
  });

  test('cdk context: one message naming the key', () => {
    const bad = stackPropsFromContext({ vpcId: 'not-a-vpc' });
    assert.deepEqual(bad, { ok: false, reason: 'cdk context (-c): vpcId: give a VPC id like vpc-0abc1234' });
    assert.deepEqual(stackPropsFromContext({ vpcId: 'vpc-0abc1234' }), { ok: false, reason: 'cdk context (-c): vpcId: give -c spec=path.json too, the clusters in that VPC' });
    assert.deepEqual(stackPropsFromContext({ zoneId: 'Z123' }), { ok: false, reason: 'cdk context (-c): give zoneId and zoneName together' });
    const good = stackPropsFromContext({ alertEmail: 'a@example.com,b@example.com', dbHosts: 'true' });
    assert.equal(good.ok, true);
    assert.deepEqual(good.ok && [good.value.alertEmails, good.value.dbHosts, good.value.gatewayEndpoints, good.value.interfaceEndpoints, good.value.stackName], [['a@example.com', 'b@example.com'], true, true, [], 'PgVigil']);
    const endpoints = stackPropsFromContext({ interfaceEndpoints: 'secretsmanager,sns', gatewayEndpoints: 'false', dashboard: 'true', flowLogs: 'all' });
    assert.deepEqual(endpoints.ok && [endpoints.value.interfaceEndpoints, endpoints.value.gatewayEndpoints, endpoints.value.dashboard, endpoints.value.flowLogs], [['secretsmanager', 'sns'], false, true, 'all']);
    assert.deepEqual(stackPropsFromContext({ interfaceEndpoints: 'sqs' }), { ok: false, reason: 'cdk context (-c): interfaceEndpoints.0: name interface endpoints from: secretsmanager, ssm, sns, lambda (comma-separated)' });
  });
});
