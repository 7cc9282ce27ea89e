import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fullProps, resourcesOf, synthStack } from './stackFixture.ts';

const { template } = synthStack(fullProps);
const functions = resourcesOf(template, 'AWS::Lambda::Function');
const policies = resourcesOf(template, 'AWS::IAM::Policy');

/** The logical id and properties of the Lambda whose POWERTOOLS_SERVICE_NAME is pgvigil-<name>. */
function fn(name: string): [string, Record<string, any>] {
  const found = functions.find(([, p]) => p.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === `pgvigil-${name}`);
  assert.ok(found, `no ${name} function`);
  return found;
}

/** The statements of the policies attached to a function's role. */
function statementsOf(name: string): Array<Record<string, any>> {
  const roleId = fn(name)[1].Role['Fn::GetAtt'][0] as string;
  return policies.filter(([, p]) => JSON.stringify(p.Roles).includes(`"${roleId}"`)).flatMap(([, p]) => p.PolicyDocument.Statement as Array<Record<string, any>>);
}
const actionsOf = (name: string) => statementsOf(name).flatMap((s) => [s.Action].flat() as string[]);

describe('PgVigil stack: act carries out the intents decide hands on', () => {
  test('act runs 150 s, longer than the longest intent (a 120 s rewind); decide runs 60 s', () => {
    assert.equal(fn('act')[1].Timeout, 150);
    assert.equal(fn('decide')[1].Timeout, 60);
  });

  test('decide is told act’s name and may invoke it and, with the on-wake probe, the probe (no other function); act is told decide’s name and may invoke it', () => {
    const [, act] = fn('act');
    const [decideId, decide] = fn('decide');
    assert.equal(decide.Environment.Variables.PGVIGIL_ACT_FUNCTION, act.FunctionName);
    assert.deepEqual(act.Environment.Variables.PGVIGIL_DECIDE_FUNCTION, { Ref: decideId });

    const decideInvokes = statementsOf('decide').filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'));
    // The stack's synchronous demo cluster runs the on-wake probe, which decide starts.
    const probeArn = JSON.stringify({ 'Fn::GetAtt': [fn('probe')[0], 'Arn'] });
    assert.equal(decideInvokes.length, 2);
    assert.equal(decideInvokes.filter((st) => new RegExp(`:function:${act.FunctionName}"`).test(JSON.stringify(st.Resource))).length, 1, 'act, by its name');
    assert.equal(decideInvokes.filter((st) => JSON.stringify(st.Resource) === probeArn).length, 1, 'the probe function itself');
    const actInvokes = statementsOf('act').filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'));
    assert.equal(actInvokes.length, 1);
    assert.deepEqual(actInvokes[0]!.Resource, { 'Fn::GetAtt': [decideId, 'Arn'] });
  });

  test('act reads the agent key and the log, writes nothing to the store, and may move the endpoints; decide no longer may', () => {
    const act = actionsOf('act');
    assert.ok(act.includes('ssm:GetParameter'), 'act signs agent requests (each node\'s key a SecureString parameter)');
    assert.ok(act.includes('dynamodb:Query'));
    for (const write of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem', 'dynamodb:TransactWriteItems', 'dynamodb:DeleteItem']) {
      assert.equal(act.includes(write), false, `act cannot ${write}`);
    }
    assert.ok(act.includes('route53:ChangeResourceRecordSets'));
    assert.equal(actionsOf('decide').includes('route53:ChangeResourceRecordSets'), false);
  });

  test('act is invoked asynchronously without Lambda’s retries and reads no stream; it sits in the VPC beside the agents', () => {
    const [actId, act] = fn('act');
    const [[, config]] = resourcesOf(template, 'AWS::Lambda::EventInvokeConfig').filter(([, p]) => p.FunctionName.Ref === actId) as [[string, Record<string, any>]];
    assert.equal(config.MaximumRetryAttempts, 0);
    assert.equal(config.MaximumEventAgeInSeconds, 60);
    assert.equal(resourcesOf(template, 'AWS::Lambda::EventSourceMapping').some(([, p]) => p.FunctionName.Ref === actId), false);
    assert.ok(act.VpcConfig?.SubnetIds?.length >= 2);
    assert.ok(act.FunctionName.length <= 64, 'a valid function name');
  });
});
