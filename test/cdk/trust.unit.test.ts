import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fullProps, hostProps, identityStatements, refsIn, resourcesOf, synthStack, type PolicyStatement } from './stackFixture.ts';
import { ACCOUNT, REGION, allows, keyPolicyFor, resolverOf } from './kmsPolicy.ts';

/**
 * The trust boundaries as the template states them: who may write which items of the store
 * (by partition: lib/store/partitions.ts), from where, and which use of the one KMS key. A reviewer reads the
 * write sets here instead of walking every policy.
 */
const s = synthStack(hostProps);
const t = s.template;
const all = t.toJSON() as { Resources: Record<string, { Type: string; Properties: any }>; Outputs: Record<string, any> };
const tableId = resourcesOf(t, 'AWS::DynamoDB::Table')[0]![0];

type Statement = PolicyStatement;
const actionsOf = (st: Statement) => [st.Action].flat();
const statements = () => identityStatements(t);

const WRITES = /^dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem|TransactWriteItems|ConditionCheckItem|\*)$/;
const roleOf = (name: string) => {
  const ids = resourcesOf(t, 'AWS::IAM::Role').map(([id]) => id).filter((id) => id.toLowerCase().includes(name.toLowerCase()));
  assert.equal(ids.length, 1, `one role named like ${name}: ${ids.join(', ')}`);
  return ids[0]!;
};

/** For each role, the partitions it may write in the store (via dynamodb:LeadingKeys); '*' for a write without that condition. */
function writeSets(): Map<string, Set<string>> {
  const sets = new Map<string, Set<string>>();
  for (const { roles, st } of statements()) {
    if (st.Effect !== 'Allow' || !refsIn(st.Resource).includes(tableId) || !actionsOf(st).some((a) => WRITES.test(a))) continue;
    const keys = (st.Condition?.['ForAllValues:StringEquals']?.['dynamodb:LeadingKeys'] as string[] | undefined) ?? ['*'];
    for (const role of roles) for (const k of keys) (sets.get(role) ?? sets.set(role, new Set()).get(role)!).add(k);
  }
  return sets;
}

describe('trust boundaries: who may write what in the store', () => {
  const sets = writeSets();
  const sorted = (role: string) => [...(sets.get(role) ?? [])].sort();

  test('only decide writes decisions and snapshots (the demo partition), and its hand-off claims', () => {
    assert.deepEqual(sorted(roleOf('FunctionsdecideRole')), ['claims#demo', 'demo']);
    const logWriters = [...sets].filter(([, keys]) => keys.has('demo') || keys.has('*')).map(([role]) => role);
    assert.deepEqual(logWriters, [roleOf('FunctionsdecideRole')]);
  });

  test('the probe writes observations only; notify its alert claims only', () => {
    assert.deepEqual(sorted(roleOf('FunctionsprobeRole')), ['obs#demo']);
    assert.deepEqual(sorted(roleOf('FunctionsnotifyRole')), ['claims#demo']);
  });

  test('each node has a role of its own that writes its own lease and nothing else', () => {
    for (const node of ['pg-a', 'pg-b', 'pg-c']) {
      assert.deepEqual(sorted(roleOf(`AgentRoledemo${node.replace('-', '')}`)), [`lease#demo#${node}`]);
    }
    const writers = [...sets.keys()].sort();
    assert.equal(writers.length, 6, `decide, probe, notify and three agents write the store, no one else: ${writers.join(', ')}`);
  });

  test('every database host runs as its own node\'s role, and each profile is an output', () => {
    const instances = resourcesOf(t, 'AWS::EC2::Instance');
    const profiles = new Map(resourcesOf(t, 'AWS::IAM::InstanceProfile').map(([id, p]) => [id, refsIn(p.Roles)[0]!]));
    const roleOfHost = instances.map(([, p]) => profiles.get(refsIn(p.IamInstanceProfile)[0]!));
    assert.equal(new Set(roleOfHost).size, 3, 'three hosts, three roles');
    const outputs = Object.keys(all.Outputs).filter((o) => o.includes('AgentInstanceProfile'));
    assert.equal(outputs.length, 3);
  });

  test('no principal may batch-write, transact, delete or scan the store', () => {
    for (const { st } of statements()) {
      if (!refsIn(st.Resource).includes(tableId)) continue;
      for (const a of actionsOf(st)) assert.doesNotMatch(a, /BatchWriteItem|TransactWriteItems|ConditionCheckItem|DeleteItem|Scan|dynamodb:\*/, a);
    }
  });

  test('the agents\' store and archive requests must come from the VPC (aws:SourceVpc, set by the gateway endpoints)', () => {
    const agentRoles = resourcesOf(t, 'AWS::IAM::Role').filter(([id]) => id.includes('AgentRole')).map(([id]) => id);
    const agentStatements = statements().filter(({ roles, st }) => roles.some((r) => agentRoles.includes(r)) && /^(dynamodb|s3):/.test(actionsOf(st)[0]!) && refsIn(st.Resource).some((r) => r === tableId || r.includes('ArchiveBucket')));
    assert.ok(agentStatements.length >= 5);
    for (const { st } of agentStatements) assert.ok(st.Condition?.['StringEquals']?.['aws:SourceVpc'], `${actionsOf(st).join(',')} has aws:SourceVpc`);
  });

  test('the probe cannot read the agent key: it signs nothing', () => {
    const probe = roleOf('FunctionsprobeRole');
    // Each node's key is an SSM parameter its custom resource makes (agentKeys.unit counts every reader).
    const agentKeys = resourcesOf(t, 'Custom::PgVigilAgentKeyParameter').map(([id]) => id);
    assert.ok(agentKeys.length > 0);
    // Its only SSM grants are its monitoring password and the CA certificate (host parameters), each by its own ARN.
    const hostParameters = resourcesOf(t, 'Custom::PgVigilHostParameter').map(([id]) => id);
    const keyReads = statements().filter(
      ({ roles, st }) =>
        roles.includes(probe) &&
        st.Effect === 'Allow' &&
        (refsIn(st.Resource).some((r) => agentKeys.includes(r)) || ([st.Action].flat().some((a) => /^ssm:/.test(a)) && !refsIn(st.Resource).filter((r) => !r.startsWith('AWS::')).every((r) => hostParameters.includes(r))) || ([st.Action].flat().some((a) => /^ssm:/.test(a)) && [st.Resource].flat().includes('*'))),
    );
    assert.deepEqual(keyReads, [], 'the probe may read its monitoring login, never the agent key');
  });
});

describe('trust boundaries: one key, each grant bound to its use', () => {
  const keys = resourcesOf(t, 'AWS::KMS::Key');
  const resolve = resolverOf(t);
  const [keyId, key] = keys[0]!;
  const keyArn = resolve({ 'Fn::GetAtt': [keyId, 'Arn'] }) as string;
  const [topicId, topic] = resourcesOf(t, 'AWS::SNS::Topic')[0]!;
  const [bucketId, bucket] = resourcesOf(t, 'AWS::S3::Bucket').find(([id]) => id.includes('ArchiveBucket'))!;
  const topicArn = resolve({ Ref: topicId }) as string;
  const bucketArn = resolve({ 'Fn::GetAtt': [bucketId, 'Arn'] }) as string;

  // The requests as KMS sees them: S3 on behalf of a caller, under the bucket's context (an S3
  // Bucket Key); SNS under the topic's (kms:ViaService given too: whether SNS sets it or not,
  // no grant relies on it); a direct call to KMS carries no kms:ViaService.
  const viaS3 = { 'kms:ViaService': `s3.${REGION}.amazonaws.com` };
  const viaSns = { 'kms:ViaService': `sns.${REGION}.amazonaws.com` };
  const archive = (action: string) => ({ action, context: { ...viaS3, 'kms:EncryptionContext:aws:s3:arn': bucketArn } });
  const otherBucket = (action: string) => ({ action, context: { ...viaS3, 'kms:EncryptionContext:aws:s3:arn': 'arn:aws:s3:::someone-elses-bucket' } });
  const direct = (action: string) => ({ action, context: { 'kms:EncryptionContext:aws:s3:arn': bucketArn } });
  const alerts = (action: string) => ({ action, context: { ...viaSns, 'kms:EncryptionContext:aws:sns:topicArn': topicArn } });
  const otherTopic = (action: string) => ({ action, context: { ...viaSns, 'kms:EncryptionContext:aws:sns:topicArn': `arn:aws:sns:${REGION}:${ACCOUNT}:other` } });
  const uses = ['kms:GenerateDataKey', 'kms:Decrypt'];

  const ofRole = (role: string) => resolve(statements().filter(({ roles }) => roles.includes(role)).map(({ st }) => st)) as PolicyStatement[];
  const ofManagedPolicy = (name: string) => {
    const [, p] = resourcesOf(t, 'AWS::IAM::ManagedPolicy').find(([id]) => id.includes(name))!;
    return resolve(p.PolicyDocument.Statement) as PolicyStatement[];
  };

  test('one KMS key for the topic and the archive: it keeps the archive key\'s logical id, rotates, and is retained with the backups', () => {
    assert.equal(keys.length, 1, 'a second key is 1 USD a month, a fifth of the budget');
    assert.deepEqual(refsIn(topic.KmsMasterKeyId), [keyId]);
    assert.deepEqual(refsIn(bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.KMSMasterKeyID), [keyId]);
    // A new logical id would create a new key and strand the backups under the old one.
    assert.equal(keyId, 'PgVigilArchiveKey95581515', 'the id the archive\'s own key had');
    assert.equal(all.Resources[keyId]!.Properties.EnableKeyRotation, true);
    assert.equal((all.Resources[keyId] as { DeletionPolicy?: string }).DeletionPolicy, 'Retain', 'cdk destroy keeps the backups, so it keeps their key');
  });

  test('the agents and the operators may use the key only through S3, for the archive bucket', () => {
    for (const [who, sts] of [['agent role pg-a', ofRole(roleOf('AgentRoledemopga'))], ['operator policy', ofManagedPolicy('OperatorPolicy')]] as const) {
      for (const action of uses) {
        assert.equal(allows(sts, archive(action), keyArn), true, `${who}: ${action} for the archive`);
        assert.equal(allows(sts, alerts(action), keyArn), false, `${who}: ${action} under the alert topic's context`);
        assert.equal(allows(sts, otherBucket(action), keyArn), false, `${who}: ${action} for another bucket`);
        assert.equal(allows(sts, direct(action), keyArn), false, `${who}: ${action} called on KMS directly`);
      }
    }
  });

  test('notify and decide may use the key only under the alert topic\'s encryption context', () => {
    for (const role of ['FunctionsnotifyRole', 'FunctionsdecideRole']) {
      const sts = ofRole(roleOf(role));
      for (const action of uses) {
        assert.equal(allows(sts, alerts(action), keyArn), true, `${role}: ${action} for the alert topic`);
        assert.equal(allows(sts, archive(action), keyArn), false, `${role}: ${action} for the archive`);
        assert.equal(allows(sts, otherTopic(action), keyArn), false, `${role}: ${action} for another topic`);
      }
    }
  });

  test('CloudWatch may use the key only for this account\'s alarms, publishing to a topic of this account', () => {
    const cw = keyPolicyFor(resolve, key.KeyPolicy, 'cloudwatch.amazonaws.com');
    assert.equal(cw.length, 1);
    const alarm = (account: string, context: Record<string, string>) => ({ ...context, 'aws:SourceAccount': account, 'aws:SourceArn': `arn:aws:cloudwatch:${REGION}:${account}:alarm:PgVigilTest-DecideErrors` });
    for (const action of uses) {
      assert.equal(allows(cw, { action, context: alarm(ACCOUNT, alerts(action).context) }, keyArn), true, `${action}: this account's alarm, to the topic`);
      assert.equal(allows(cw, { action, context: alarm('222222222222', alerts(action).context) }, keyArn), false, `${action}: another account's alarm`);
      assert.equal(allows(cw, { action, context: alarm(ACCOUNT, archive(action).context) }, keyArn), false, `${action}: under the archive's context`);
      assert.equal(
        allows(cw, { action, context: { ...alarm(ACCOUNT, alerts(action).context), 'aws:SourceArn': `arn:aws:events:${REGION}:${ACCOUNT}:rule/r` } }, keyArn),
        false,
        `${action}: CloudWatch on behalf of something that is not an alarm`,
      );
    }
  });

  test('the key policy names the account (so IAM policies decide) and CloudWatch, nobody else; only these hold a grant on it', () => {
    const principals = (key.KeyPolicy.Statement as Array<{ Principal: unknown }>).map((st) => JSON.stringify(resolve(st.Principal))).sort();
    assert.deepEqual(principals, [JSON.stringify({ AWS: `arn:aws:iam::${ACCOUNT}:root` }), JSON.stringify({ Service: 'cloudwatch.amazonaws.com' })]);
    const holders = new Set(statements().filter(({ st }) => refsIn(st.Resource).includes(keyId) || (st.Resource === '*' && actionsOf(st).some((a) => a.startsWith('kms:')))).flatMap(({ roles }) => roles));
    // act, decide and the probe read their SSM parameters under it, and the custom resource's handler puts them (parameterKey.unit: each bound to its parameters).
    const expected = [roleOf('FunctionsnotifyRole'), roleOf('FunctionsdecideRole'), roleOf('FunctionsactRole'), roleOf('FunctionsprobeRole'), roleOf('ParametersonEventServiceRole'), ...resourcesOf(t, 'AWS::IAM::Role').filter(([id]) => id.includes('AgentRole')).map(([id]) => id)];
    assert.deepEqual([...holders].sort(), expected.sort());
  });

  test('a WAL segment can only be put with If-None-Match: IAM refuses an overwrite whatever the client sends', () => {
    const walPut = statements().find(({ st }) => actionsOf(st).includes('s3:PutObject') && JSON.stringify(st.Resource).includes('/wal/*'));
    assert.ok(walPut);
    assert.deepEqual(walPut.st.Condition?.['Null'], { 's3:if-none-match': 'false' });
  });

  test('Object Lock is an option: off by default, governance for the retention when asked', () => {
    const bucketOf = (tt: typeof t) => resourcesOf(tt, 'AWS::S3::Bucket').find(([id]) => id.includes('ArchiveBucket'))![1];
    assert.equal(bucketOf(t).ObjectLockEnabled, undefined);
    const locked = bucketOf(synthStack({ ...fullProps, archiveObjectLock: true, backupRetentionDays: 40 }).template);
    assert.equal(locked.ObjectLockEnabled, true);
    assert.deepEqual(locked.ObjectLockConfiguration, { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 40 } } });
  });
});
