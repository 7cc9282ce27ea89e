import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fullProps, hostProps, identityStatements, refsIn, resourcesOf, synthStack } from './stackFixture.ts';

/**
 * How the cluster CA's certificate reaches the probe function (issue 14 item 2): the first
 * host's bootstrap puts it in a secret of its own, apart from the CA key; the probe may read
 * that secret and the monitoring password, and no function may write either.
 */
const t = synthStack(hostProps).template;
const secrets = resourcesOf(t, 'AWS::SecretsManager::Secret').map(([id]) => id);
const secretId = (part: string) => {
  const ids = secrets.filter((id) => id.includes(part) && !(part === 'ClusterCa' && id.includes('ClusterCaCert')));
  assert.equal(ids.length, 1, `one secret named like ${part}: ${ids.join(', ')}`);
  return ids[0]!;
};
const roleIds = resourcesOf(t, 'AWS::IAM::Role').map(([id]) => id);
const probeRole = roleIds.find((id) => id.includes('FunctionsprobeRole'))!;
const actionsOf = (a: string | string[]) => [a].flat();

/** Secrets a role may do `action` on, by logical id. */
function secretsFor(role: string, action: RegExp): string[] {
  return [
    ...new Set(
      identityStatements(t)
        .filter(({ roles, st }) => st.Effect === 'Allow' && roles.includes(role) && actionsOf(st.Action).some((a) => action.test(a)))
        .flatMap(({ st }) => refsIn(st.Resource).filter((r) => secrets.includes(r))),
    ),
  ].sort();
}

describe('the probe verifies the nodes with the cluster CA certificate', () => {
  test('the probe reads the monitoring password and the CA certificate, never the CA key', () => {
    assert.deepEqual(secretsFor(probeRole, /^secretsmanager:GetSecretValue$/), [secretId('ClusterCaCert'), secretId('MonitorPassword')].sort());
    assert.ok(!secretsFor(probeRole, /^secretsmanager:/).includes(secretId('ClusterCa')), 'the CA key would let the probe issue certificates every node trusts');
  });

  test('the probe is told where the certificate is', () => {
    const probe = resourcesOf(t, 'AWS::Lambda::Function').find(([, p]) => p.Environment?.Variables?.PGVIGIL_CA_CERT_SECRET_ARN);
    assert.ok(probe, 'a function has PGVIGIL_CA_CERT_SECRET_ARN');
    assert.deepEqual(refsIn(probe[1].Environment.Variables.PGVIGIL_CA_CERT_SECRET_ARN), [secretId('ClusterCaCert')]);
    assert.equal(refsIn(probe[1].Role)[0], probeRole);
  });

  test('only the hosts may put the CA and its certificate; no function writes a secret', () => {
    for (const role of roleIds) {
      const puts = secretsFor(role, /^secretsmanager:(PutSecretValue|UpdateSecret|\*)$/);
      if (role.includes('AgentRole')) assert.deepEqual(puts, [secretId('ClusterCa'), secretId('ClusterCaCert')].sort(), role);
      else assert.deepEqual(puts, [], role);
    }
  });

  test('each host\'s bootstrap is given the certificate secret (certSecretId in its config)', () => {
    const instances = resourcesOf(t, 'AWS::EC2::Instance');
    assert.equal(instances.length, 3);
    for (const [id, p] of instances) {
      const userData = JSON.stringify(p.UserData);
      assert.match(userData, /certSecretId/, id);
      assert.ok(refsIn(p.UserData).includes(secretId('ClusterCaCert')), `${id}'s user data names the certificate secret`);
    }
  });

  test('without database hosts there is no CA and the probe is given none', () => {
    const bare = synthStack(fullProps).template;
    assert.deepEqual(resourcesOf(bare, 'AWS::SecretsManager::Secret').filter(([id]) => id.includes('ClusterCa')), []);
    assert.ok(resourcesOf(bare, 'AWS::Lambda::Function').every(([, p]) => !p.Environment?.Variables?.PGVIGIL_CA_CERT_SECRET_ARN));
  });
});
