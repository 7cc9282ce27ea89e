import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { App, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import { PgVigilArchive } from '../../cdk/archive.ts';
import { stackPropsFromContext } from '../../cdk/appContext.ts';
import { fullProps, hostProps, identityStatements, refsIn, resourcesOf, synthStack } from './stackFixture.ts';

const defaults = synthStack(fullProps);
const custom = synthStack({ ...hostProps, backupSchedule: null, backupRetentionDays: 90 });
const custom2 = synthStack(hostProps);

const json = (t: typeof defaults.template) => t.toJSON() as { Resources: Record<string, { Type: string; Properties: any; DeletionPolicy?: string }>; Outputs: Record<string, any> };
const idOf = (s: typeof defaults, construct: { node: { defaultChild?: unknown } }) => s.stack.getLogicalId(construct.node.defaultChild as never);

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

const statements = (s: typeof defaults) => identityStatements(s.template);

for (const [label, s] of [['defaults', defaults], ['dbHosts, no schedule, 90 days', custom]] as const) {
  describe(`archive bucket (${label})`, () => {
    const archive = s.stack.pgvigil.archive;
    const bucketId = idOf(s, archive.bucket);
    const bucket = json(s.template).Resources[bucketId]!;

    test('encrypted with the stack\'s one KMS key (with rotation, retained), bucket key on', () => {
      const keyId = idOf(s, s.stack.pgvigil.archive.key);
      const [rule] = bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration;
      assert.equal(rule.ServerSideEncryptionByDefault.SSEAlgorithm, 'aws:kms');
      assert.deepEqual(refsIn(rule.ServerSideEncryptionByDefault.KMSMasterKeyID), [keyId]);
      assert.equal(rule.BucketKeyEnabled, true);
      assert.equal(json(s.template).Resources[keyId]!.Properties.EnableKeyRotation, true);
      assert.equal(json(s.template).Resources[keyId]!.DeletionPolicy, 'Retain', 'the key outlives the stack with the backups it encrypts');
    });

    test('public access blocked, versioned, retained, access logged to its own log bucket', () => {
      assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      assert.deepEqual(bucket.Properties.VersioningConfiguration, { Status: 'Enabled' });
      assert.equal(bucket.DeletionPolicy, 'Retain');
      assert.deepEqual(refsIn(bucket.Properties.LoggingConfiguration.DestinationBucketName), [idOf(s, archive.accessLogs)]);
    });

    test('TLS only: the bucket policy denies every request without aws:SecureTransport', () => {
      const policies = resourcesOf(s.template, 'AWS::S3::BucketPolicy').filter(([, p]) => refsIn(p.Bucket).includes(bucketId));
      assert.equal(policies.length, 1);
      const deny = (policies[0]![1].PolicyDocument.Statement as Statement[]).find((st) => st.Effect === 'Deny');
      assert.deepEqual(deny?.Condition, { Bool: { 'aws:SecureTransport': 'false' } });
      assert.equal(deny?.Action, 's3:*');
    });

    test('only the agent roles (one per node, sharing the agent policy) may write the bucket, only under wal/ and backups/, and may use its key', () => {
      const agentRoleIds = [...s.stack.pgvigil.access.agentRoles.values()].map((r) => idOf(s, r)).sort();
      assert.equal(agentRoleIds.length, 3);
      const onBucket = statements(s).filter(({ st }) => st.Effect === 'Allow' && refsIn(st.Resource).includes(bucketId));
      const writes = onBucket.filter(({ st }) => actionsOf(st).some((a) => /^s3:(Put|Delete|Abort|Restore|\*)/.test(a)));
      assert.equal(writes.length, 2, 'WAL puts and backup puts');
      for (const w of writes) assert.deepEqual(w.roles.sort(), agentRoleIds, `write access only for the agent roles (${JSON.stringify(w.st.Action)})`);
      for (const w of writes) assert.deepEqual(actionsOf(w.st), ['s3:PutObject']);
      const targets = writes.map((w) => JSON.stringify(w.st.Resource)).sort();
      assert.ok(targets[0]!.includes('/backups/*') && targets[1]!.includes('/wal/*'), targets.join(' '));
      const get = onBucket.find(({ st }) => actionsOf(st).includes('s3:GetObject'))!;
      assert.ok(JSON.stringify(get.st.Resource).includes('/wal/*') && JSON.stringify(get.st.Resource).includes('/backups/*'));
      const list = onBucket.find(({ st }) => actionsOf(st).includes('s3:ListBucket'))!;
      assert.deepEqual(list.roles.sort(), agentRoleIds);
      assert.deepEqual(list.st.Condition?.['StringLike' as never], { 's3:prefix': ['wal/*', 'backups/*'] });
      // Nobody else reads it either: decide takes backups through the agents and lists nothing.
      assert.deepEqual([...new Set(onBucket.flatMap((o) => o.roles))].sort(), agentRoleIds);
      // The archive's grant (the hosts also hold the SSM parameters' grants on the same key, bound to those: parameterKey.unit).
      const kmsUse = statements(s).find(({ roles, st }) => roles.includes(agentRoleIds[0]!) && actionsOf(st).includes('kms:GenerateDataKey') && JSON.stringify(st.Condition ?? {}).includes('aws:s3:arn'));
      assert.deepEqual(actionsOf(kmsUse!.st).sort(), ['kms:Decrypt', 'kms:GenerateDataKey']);
      assert.deepEqual(refsIn(kmsUse!.st.Resource), [idOf(s, s.stack.pgvigil.archive.key)]);
      // The key is shared with the alert topic: this grant holds only through S3, for this bucket (test/cdk/trust.unit.test.ts evaluates it).
      const bound = (kmsUse!.st.Condition as { StringEquals: Record<string, unknown> }).StringEquals;
      assert.deepEqual(refsIn(bound['kms:EncryptionContext:aws:s3:arn']), [bucketId]);
      assert.match(JSON.stringify(bound['kms:ViaService']), /"s3\.",\{"Ref":"AWS::Region"\},"\.amazonaws\.com"/);
    });

    test('operators (the operator policy) read the archive and may write only verification results', () => {
      const policyId = idOf(s, s.stack.pgvigil.access.operatorPolicy);
      const [, policy] = resourcesOf(s.template, 'AWS::IAM::ManagedPolicy').find(([id]) => id === policyId)!;
      const onBucket = (policy.PolicyDocument.Statement as Statement[]).filter((st) => refsIn(st.Resource).includes(bucketId));
      const puts = onBucket.filter((st) => actionsOf(st).some((a) => /^s3:(Put|Delete|\*)/.test(a)));
      assert.equal(puts.length, 1);
      assert.deepEqual(actionsOf(puts[0]!), ['s3:PutObject']);
      assert.ok(JSON.stringify(puts[0]!.Resource).includes('/backups/*/verification.json'));
      const gets = onBucket.find((st) => actionsOf(st).includes('s3:GetObject'))!;
      assert.ok(JSON.stringify(gets.Resource).includes('/wal/*') && JSON.stringify(gets.Resource).includes('/backups/*'));
    });

    test('the bucket name is a stack output', () => {
      const out = Object.entries(json(s.template).Outputs).find(([k]) => k.includes('ArchiveBucketName'));
      assert.ok(out);
      assert.deepEqual(refsIn(out[1].Value), [bucketId]);
    });
  });
}

describe('archive lifecycle', () => {
  const rules = (s: typeof defaults) => json(s.template).Resources[idOf(s, s.stack.pgvigil.archive.bucket)]!.Properties.LifecycleConfiguration.Rules as Array<Record<string, any>>;

  test('default: wal/ and backups/ expire after 35 days, no Standard-IA (its 30-day minimum would cost more than it saves)', () => {
    const r = rules(defaults);
    for (const prefix of ['wal/', 'backups/']) {
      const rule = r.find((x) => x.Prefix === prefix);
      assert.equal(rule?.ExpirationInDays, 35, prefix);
      assert.equal(rule?.Status, 'Enabled');
      assert.equal(rule?.Transitions, undefined);
    }
    const all = r.find((x) => x.Prefix === undefined)!;
    assert.deepEqual(all.NoncurrentVersionExpiration, { NoncurrentDays: 7 });
    assert.deepEqual(all.AbortIncompleteMultipartUpload, { DaysAfterInitiation: 1 });
    assert.equal(all.ExpiredObjectDeleteMarker, true);
  });

  test('90 days: expire after 90, Standard-IA after 30', () => {
    for (const prefix of ['wal/', 'backups/']) {
      const rule = rules(custom).find((x) => x.Prefix === prefix);
      assert.equal(rule?.ExpirationInDays, 90);
      assert.deepEqual(rule?.Transitions, [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }]);
    }
  });

  test('a retention that is not a whole number of days stops the synth', () => {
    const stack = new Stack(new App(), 'Bad');
    assert.throws(() => new PgVigilArchive(stack, 'A', { retentionDays: 0 }), /backupRetentionDays: give a whole number of days, at least 1 \(got 0\)/);
  });
});

describe('backup schedule', () => {
  const decideId = (s: typeof defaults) => idOf(s, s.stack.pgvigil.functions.decide);
  const backupRules = (s: typeof defaults) =>
    resourcesOf(s.template, 'AWS::Events::Rule').filter(([, p]) => (p.Targets as Array<{ Input?: string }>).some((t) => t.Input?.includes('pgvigil.schedule')));

  test('default: daily at 03:00 UTC, decide invoked with the constant input for the cluster, no retries', () => {
    const rules = backupRules(defaults);
    assert.equal(rules.length, 1, 'one rule per cluster');
    const [ruleId, p] = rules[0]!;
    assert.equal(p.ScheduleExpression, 'cron(0 3 * * ? *)');
    // The demo without hosts has nothing to back up: the rule is there, switched off; with hosts it runs.
    assert.equal(p.State, 'DISABLED');
    assert.deepEqual(backupRules(custom2).map(([, q]) => q.State), ['ENABLED']);
    const [target] = p.Targets;
    assert.deepEqual(refsIn(target.Arn), [decideId(defaults)]);
    assert.deepEqual(JSON.parse(target.Input), { source: 'pgvigil.schedule', action: 'backup', cluster: 'demo' });
    assert.equal(target.RetryPolicy.MaximumRetryAttempts, 0);
    const invoke = resourcesOf(defaults.template, 'AWS::Lambda::Permission').filter(([, q]) => q.Principal === 'events.amazonaws.com' && refsIn(q.SourceArn).includes(ruleId));
    assert.equal(invoke.length, 1, 'EventBridge may invoke decide for this rule');
    assert.deepEqual(refsIn(invoke[0]![1].FunctionName), [decideId(defaults)]);
  });

  test('backupSchedule: null leaves no backup rule (the probe and tick rules stay)', () => {
    assert.deepEqual(backupRules(custom), []);
    assert.equal(resourcesOf(custom.template, 'AWS::Events::Rule').length, 2);
  });

  test('a schedule of your own is used as given', () => {
    const s = synthStack({ ...fullProps, backupSchedule: events.Schedule.cron({ minute: '30', hour: '*/6' }) });
    assert.equal(backupRules(s)[0]![1].ScheduleExpression, 'cron(30 */6 * * ? *)');
  });

  test('cdk context: backupSchedule=off disables it, an expression is passed on, retention is a number of days', () => {
    const off = stackPropsFromContext({ backupSchedule: 'off', backupRetentionDays: '90' });
    assert.ok(off.ok);
    assert.equal(off.value.backupSchedule, null);
    assert.equal(off.value.backupRetentionDays, 90);
    const every = stackPropsFromContext({ backupSchedule: 'rate(12 hours)' });
    assert.equal(every.ok && every.value.backupSchedule?.expressionString, 'rate(12 hours)');
    const none = stackPropsFromContext({});
    assert.ok(none.ok && none.value.backupSchedule === undefined && none.value.backupRetentionDays === undefined, 'defaults come from the construct');
    assert.deepEqual(stackPropsFromContext({ backupSchedule: 'daily' }), { ok: false, reason: 'cdk context (-c): backupSchedule: give "off", cron(0 3 * * ? *) or rate(1 day)' });
    assert.deepEqual(stackPropsFromContext({ backupRetentionDays: 'forever' }), { ok: false, reason: 'cdk context (-c): backupRetentionDays: give a whole number of days, e.g. 35' });
  });
});

/** User data as the host runs it: the Fn::Join parts, with references shown as <Ref:LogicalId>. */
function scriptOf(userData: { 'Fn::Base64': { 'Fn::Join': [string, unknown[]] } }): string {
  return userData['Fn::Base64']['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : `<Ref:${refsIn(part).join(',')}>`)).join('');
}

describe('database hosts archive WAL and back up to the bucket', () => {
  test('agent config names the bucket; archive.json for postgres; every node\'s bootstrap sets archive_command', () => {
    const bucketId = idOf(custom, custom.stack.pgvigil.archive.bucket);
    const scripts = resourcesOf(custom.template, 'AWS::EC2::Instance').map(([, p]) => scriptOf(p.UserData));
    for (const script of scripts) {
      const agentJson = /cat > \/etc\/pgvigil\/agent\.json <<'JSON'\n([\s\S]*?)\nJSON/.exec(script)![1]!;
      assert.deepEqual(JSON.parse(agentJson.replaceAll(/<Ref:[^>]*>/g, 'x')).archive, { kind: 's3', bucket: 'x', prefix: '', region: 'x' });
      assert.ok(agentJson.includes(`"bucket": "<Ref:${bucketId}>"`), 'the archive bucket, by reference');
      assert.ok(script.includes(`cat > /etc/pgvigil/archive.json <<'JSON'\n{"kind":"s3","bucket":"<Ref:${bucketId}>","prefix":"","region":"<Ref:AWS::Region>"}\nJSON\nchmod 0644 /etc/pgvigil/archive.json`));
      // Unquoted heredoc: NODE_BIN is expanded at boot, \$@ is left for the wrapper.
      assert.ok(script.includes('cat > /usr/local/bin/pgvigil-agent <<WRAP\n#!/bin/sh\nexec ${NODE_BIN} /opt/pgvigil/agent.mjs "\\$@"\nWRAP'), 'the wrapper passes its own arguments on');
    }
    // Every node archives once it is primary (archive_mode archives on the primary only): the bootstrap writes it on each (lib/host/serverConf.ts).
    for (const script of scripts) {
      const agentJson = /cat > \/etc\/pgvigil\/agent\.json <<'JSON'\n([\s\S]*?)\nJSON/.exec(script)![1]!;
      assert.equal(JSON.parse(agentJson.replaceAll(/<Ref:[^>]*>/g, 'x')).bootstrap.archiveCommand, '/usr/local/bin/pgvigil-agent archive-push --target-file /etc/pgvigil/archive.json %p %f');
    }
  });
});
