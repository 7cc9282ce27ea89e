import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { hostProps, identityStatements, resourcesOf, synthStack, type PolicyStatement } from './stackFixture.ts';
import { parameterAccess } from './parameterAccess.ts';
import { ACCOUNT, REGION, allows, keyPolicyFor } from './kmsPolicy.ts';

/**
 * The stack's SecureString parameters under its own key (cdk/controlKey.ts parameterUse), counted
 * as IAM and KMS would: who may decrypt, and so read, which parameter, whatever ssm:GetParameter
 * they hold. A role modelled on another pgvigil stack's host (AmazonSSMManagedInstanceCore's
 * ssm:GetParameter(s) on "*", its own key's grants and nothing of this key) opens none of them.
 */
const { template: t } = synthStack(hostProps);
const a = parameterAccess(t);
const keyParams = resourcesOf(t, 'Custom::PgVigilAgentKeyParameter');
const hostParams = resourcesOf(t, 'Custom::PgVigilHostParameter');
const all = [...keyParams, ...hostParams].map(([id]) => id).sort();
const hostOf = (purpose: string) => hostParams.find(([, p]) => p.Purpose === purpose)![0];
const keyOf = (node: string) => keyParams.find(([, p]) => p.Node === node)![0];
const nodes = keyParams.map(([, p]) => String(p.Node));
const roleOf = (name: string) => {
  const ids = a.roleIds.filter((id) => id.toLowerCase().includes(name.toLowerCase()));
  assert.equal(ids.length, 1, `one role named like ${name}: ${ids.join(', ')}`);
  return ids[0]!;
};
const agentRole = (node: string) => roleOf(`AgentRoledemo${node.replace('-', '')}`);
const sorted = (xs: string[]) => [...xs].sort();

describe('SecureString parameters under the stack key', () => {
  test('every parameter is put under the stack key (KeyId on each custom resource)', () => {
    assert.equal(all.length, nodes.length + 4);
    for (const [id, p] of [...keyParams, ...hostParams]) assert.deepEqual(a.resolve(p.KeyId), a.keyArn, id);
  });

  test("a role with ssm:GetParameter on * and no grant on this key (another stack's host) decrypts none of them", () => {
    const core: PolicyStatement[] = [
      { Effect: 'Allow', Action: ['ssm:GetParameter', 'ssm:GetParameters'], Resource: '*' },
      // Its own stack's grants: on its own key, whatever context.
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:Encrypt'], Resource: `arn:aws:kms:${REGION}:${ACCOUNT}:key/OtherStackKey`, Condition: { StringEquals: { 'kms:ViaService': `ssm.${REGION}.amazonaws.com` } } },
    ];
    assert.deepEqual(a.keyAllows(core, all, 'kms:Decrypt'), []);
    // The key policy lets nobody in but the account (IAM decides) and CloudWatch, which is bound to the topic.
    const keyPolicy = resourcesOf(t, 'AWS::KMS::Key')[0]![1].KeyPolicy;
    const cloudwatch = keyPolicyFor(a.resolve, keyPolicy, 'cloudwatch.amazonaws.com');
    for (const id of all) assert.equal(allows(cloudwatch as never, a.ssmRequest('kms:Decrypt', id), a.keyArn), false, `CloudWatch: ${id}`);
  });

  test('each principal decrypts exactly what it should', () => {
    const expected = new Map<string, string[]>();
    const hostSet = ['monitor-password', 'replication-password', 'cluster-ca', 'cluster-ca-cert'].map(hostOf);
    for (const n of nodes) expected.set(agentRole(n), sorted([keyOf(n), ...hostSet]));
    expected.set(roleOf('FunctionsactRole'), sorted([...nodes.map(keyOf), hostOf('cluster-ca-cert')]));
    expected.set(roleOf('FunctionsdecideRole'), sorted([...nodes.map(keyOf), hostOf('cluster-ca-cert')]));
    expected.set(roleOf('FunctionsprobeRole'), sorted([hostOf('monitor-password'), hostOf('cluster-ca-cert')]));
    // The custom resource's handler re-puts a parameter under the key (an upgrade) and so reads it.
    expected.set(roleOf('ParametersonEventServiceRole'), all);
    for (const role of a.roleIds) assert.deepEqual(a.decrypts(role, all), expected.get(role) ?? [], role);
    // Read end to end (ssm read and kms decrypt): the same, but the handler, which reads only to re-put.
    for (const n of nodes) assert.deepEqual(a.opens(agentRole(n), all), expected.get(agentRole(n)), n);
    assert.deepEqual(a.opens(roleOf('FunctionsprobeRole'), all), expected.get(roleOf('FunctionsprobeRole')));
    // The CA (its key) is decrypted by the hosts alone.
    const ca = hostOf('cluster-ca');
    assert.deepEqual(sorted(a.roleIds.filter((r) => a.opens(r, [ca]).length > 0)), sorted(nodes.map(agentRole)));
  });

  test('puts: the first node encrypts the CA, every host the certificate, the handler all of them, nobody else any', () => {
    const [first, ...rest] = nodes;
    assert.deepEqual(a.encrypts(agentRole(first!), all), sorted([hostOf('cluster-ca'), hostOf('cluster-ca-cert')]));
    for (const n of rest) assert.deepEqual(a.encrypts(agentRole(n), all), [hostOf('cluster-ca-cert')], n);
    assert.deepEqual(a.encrypts(roleOf('ParametersonEventServiceRole'), all), all);
    const others = a.roleIds.filter((r) => !nodes.map(agentRole).includes(r) && r !== roleOf('ParametersonEventServiceRole'));
    for (const r of others) assert.deepEqual(a.encrypts(r, all), [], r);
  });

  test("the parameters' grants open no archive object or alert message, and the archive's and topic's grants no parameter", () => {
    const bucket = resourcesOf(t, 'AWS::S3::Bucket').find(([id]) => id.includes('ArchiveBucket'))![0];
    const topic = resourcesOf(t, 'AWS::SNS::Topic')[0]![0];
    const archiveCtx = { action: 'kms:Decrypt', context: { 'kms:ViaService': `s3.${REGION}.amazonaws.com`, 'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${bucket.toLowerCase()}` } };
    const topicCtx = { action: 'kms:Decrypt', context: { 'kms:EncryptionContext:aws:sns:topicArn': `arn:aws:sns:${REGION}:${ACCOUNT}:${topic}` } };
    const stmts = (role: string) => a.resolve(parameterStatements(role)) as never;
    for (const role of [roleOf('FunctionsprobeRole'), roleOf('FunctionsactRole'), roleOf('ParametersonEventServiceRole')]) {
      assert.equal(allows(stmts(role), archiveCtx, a.keyArn), false, `${role}: archive`);
      assert.equal(allows(stmts(role), topicCtx, a.keyArn), false, `${role}: topic`);
    }
    // The hosts hold the archive's grant: it still opens the archive, and it opens no parameter.
    const host = agentRole(nodes[0]!);
    assert.equal(allows(a.resolve(allStatements(host)) as never, archiveCtx, a.keyArn), true, 'the archive grant holds');
    const archiveOnly = (allStatements(host) as Array<{ Condition?: Record<string, Record<string, unknown>> }>).filter((st) => JSON.stringify(st.Condition ?? {}).includes('aws:s3:arn'));
    assert.ok(archiveOnly.length > 0);
    assert.deepEqual(a.keyAllows(archiveOnly as never, all, 'kms:Decrypt'), [], 'the archive grant opens no parameter');
    // decide publishes to the topic; its topic grant opens no parameter either.
    const topicOnly = (allStatements(roleOf('FunctionsdecideRole')) as Array<{ Condition?: Record<string, Record<string, unknown>> }>).filter((st) => JSON.stringify(st.Condition ?? {}).includes('aws:sns:topicArn'));
    assert.ok(topicOnly.length > 0);
    assert.deepEqual(a.keyAllows(topicOnly as never, all, 'kms:Decrypt'), []);
  });
});

function allStatements(role: string): PolicyStatement[] {
  return identityStatements(t).filter(({ roles }) => roles.includes(role)).map(({ st }) => st);
}
function parameterStatements(role: string): PolicyStatement[] {
  return allStatements(role).filter((st) => JSON.stringify(st.Condition ?? {}).includes('PARAMETER_ARN'));
}
