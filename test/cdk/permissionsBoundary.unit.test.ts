import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { hostProps, resourcesOf, synthStack } from './stackFixture.ts';
import { stackPropsFromContext } from '../../cdk/appContext.ts';

/** `-c permissionsBoundary=…`: an organisation's boundary on every role the stack makes, the hosts' and the custom resources' included. */
describe('permissions boundary', () => {
  const rolesOf = (context: Record<string, unknown>) => {
    const props = stackPropsFromContext({ ...context, dbHosts: 'true', dbHostAmi: 'ami-0123456789abcdef0' });
    assert.ok(props.ok, props.ok ? '' : props.reason);
    return resourcesOf(synthStack({ ...hostProps, ...props.value }).template, 'AWS::IAM::Role');
  };

  test('none by default', () => {
    const roles = rolesOf({});
    assert.ok(roles.length > 5);
    assert.deepEqual(roles.filter(([, p]) => p.PermissionsBoundary !== undefined).map(([id]) => id), []);
  });

  test('by name: every role gets the policy of that name in the stack account', () => {
    const roles = rolesOf({ permissionsBoundary: 'pgvigil-boundary' });
    assert.ok(roles.length > 5);
    for (const [id, p] of roles) {
      assert.match(JSON.stringify(p.PermissionsBoundary ?? null), /:iam::.*:policy\/pgvigil-boundary/, id);
    }
  });

  test('by ARN, as given; anything else is refused naming the key', () => {
    const arn = 'arn:aws:iam::123456789012:policy/org/db-boundary';
    const byArn = rolesOf({ permissionsBoundary: arn });
    assert.ok(byArn.length > 5);
    for (const [id, p] of byArn) assert.equal(p.PermissionsBoundary, arn, id);
    const bad = stackPropsFromContext({ permissionsBoundary: 'arn:aws:s3:::not-a-policy' });
    assert.deepEqual(bad, { ok: false, reason: 'cdk context (-c): permissionsBoundary: give a policy name like pgvigil-boundary, or its ARN arn:aws:iam::123456789012:policy/pgvigil-boundary' });
  });
});
