import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fullProps, hostProps, identityStatements, refsIn, resourcesOf, synthStack, type PolicyStatement } from './stackFixture.ts';

/**
 * The trust boundaries as the template states them: who may write which items of the store
 * (by partition: lib/store/partitions.ts), from where, with which key. A reviewer reads the
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
    const agentKey = resourcesOf(t, 'AWS::SecretsManager::Secret').find(([id]) => id.includes('AgentKey'))![0];
    const keyReads = statements().filter(({ roles, st }) => roles.includes(probe) && refsIn(st.Resource).includes(agentKey));
    assert.deepEqual(keyReads, [], 'the probe may read its monitoring login, never the agent key');
  });
});

describe('trust boundaries: keys and the archive', () => {
  const keys = resourcesOf(t, 'AWS::KMS::Key');

  test('two KMS keys, alerts and archive, each used by its own resource', () => {
    assert.equal(keys.length, 2);
    const topic = resourcesOf(t, 'AWS::SNS::Topic')[0]![1];
    const bucket = resourcesOf(t, 'AWS::S3::Bucket').find(([id]) => id.includes('ArchiveBucket'))![1];
    const topicKey = refsIn(topic.KmsMasterKeyId)[0];
    const archiveKey = refsIn(bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.KMSMasterKeyID)[0];
    assert.ok(topicKey && archiveKey && topicKey !== archiveKey);
  });

  test('the CloudWatch service principal may use the alert key only for alarms of this account', () => {
    const cw = keys.flatMap(([, p]) => p.KeyPolicy.Statement as Array<Statement & { Principal?: { Service?: string } }>).filter((st) => st.Principal?.Service === 'cloudwatch.amazonaws.com');
    assert.equal(cw.length, 1);
    assert.deepEqual(cw[0]!.Condition?.['StringEquals'], { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    assert.match(JSON.stringify(cw[0]!.Condition?.['ArnLike']?.['aws:SourceArn']), /:cloudwatch:.*:alarm:\*/);
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
