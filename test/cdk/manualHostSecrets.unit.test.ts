import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fullProps, identityStatements, refsIn, resourcesOf, synthStack } from './stackFixture.ts';

/*
 * Issue 14, the manual install: hosts a user sets up by hand run the same bootstrap as the
 * stack's own hosts, which reads the monitoring and replication passwords and the cluster CA
 * from Secrets Manager. A stack that watches one cluster without building its hosts creates
 * those secrets, lets the hosts and the probe read what each needs, and outputs their ARNs for
 * the bootstrap config; without them the probe would log in as the superuser without TLS, which
 * a bootstrapped host refuses.
 */
const nodes = ['a', 'b', 'c'].map((name, i) => ({ name, host: `10.42.3.${20 + i}`, port: 5432, agent: `https://10.42.3.${20 + i}:8008` }));
const t = synthStack({ ...fullProps, clusters: [{ cluster: 'orders', nodes }] }).template;
const secretIds = resourcesOf(t, 'AWS::SecretsManager::Secret').map(([id]) => id).filter((id) => id.startsWith('PgVigilHostSecrets') || id.includes('HostSecrets'));
const secretId = (part: string) => {
  const ids = secretIds.filter((id) => id.includes(part) && !(part === 'ClusterCa' && id.includes('ClusterCaCert')));
  assert.equal(ids.length, 1, `one host secret named like ${part}: ${secretIds.join(', ')}`);
  return ids[0]!;
};
const roleIds = resourcesOf(t, 'AWS::IAM::Role').map(([id]) => id);
const readable = (role: string, action: RegExp) =>
  [
    ...new Set(
      identityStatements(t)
        .filter(({ roles, st }) => st.Effect === 'Allow' && roles.includes(role) && [st.Action].flat().some((a: string) => action.test(a)))
        .flatMap(({ st }) => refsIn(st.Resource).filter((r) => secretIds.includes(r))),
    ),
  ].sort();

describe('a stack watching hand-installed hosts creates the secrets their bootstrap reads', () => {
  test('four host secrets, and their ARNs as outputs for the bootstrap config', () => {
    assert.equal(secretIds.length, 4, secretIds.join(', '));
    const outputs = t.toJSON().Outputs as Record<string, { Value: unknown }>;
    for (const [output, part] of [
      ['MonitorPasswordSecretArn', 'MonitorPassword'],
      ['ReplicationPasswordSecretArn', 'ReplicationPassword'],
      ['ClusterCaSecretArn', 'ClusterCa'],
      ['ClusterCaCertSecretArn', 'ClusterCaCert'],
    ] as const) {
      const found = Object.entries(outputs).find(([k]) => k.includes(output));
      assert.ok(found, `output ${output}`);
      assert.deepEqual(refsIn(found[1].Value), [secretId(part)], output);
    }
  });

  test('the probe reads the monitoring password and the CA certificate, never the CA key, and is told where they are', () => {
    const probeRole = roleIds.find((id) => id.includes('FunctionsprobeRole'))!;
    assert.deepEqual(readable(probeRole, /^secretsmanager:GetSecretValue$/), [secretId('ClusterCaCert'), secretId('MonitorPassword')].sort());
    const probe = resourcesOf(t, 'AWS::Lambda::Function').find(([, p]) => refsIn(p.Role)[0] === probeRole)!;
    assert.deepEqual(refsIn(probe[1].Environment.Variables.PGVIGIL_MONITOR_SECRET_ARN), [secretId('MonitorPassword')]);
    assert.deepEqual(refsIn(probe[1].Environment.Variables.PGVIGIL_CA_CERT_SECRET_ARN), [secretId('ClusterCaCert')]);
  });

  test('the hosts read all four and may put only the CA and its certificate; no function writes one', () => {
    for (const role of roleIds) {
      const puts = readable(role, /^secretsmanager:(PutSecretValue|UpdateSecret|\*)$/);
      if (role.includes('AgentRole')) {
        assert.deepEqual(readable(role, /^secretsmanager:GetSecretValue$/).length, 4, role);
        assert.deepEqual(puts, [secretId('ClusterCa'), secretId('ClusterCaCert')].sort(), role);
      } else assert.deepEqual(puts, [], role);
    }
  });

  test('the demo without hosts watches nothing and creates no host secrets', () => {
    const demo = synthStack(fullProps).template;
    assert.deepEqual(resourcesOf(demo, 'AWS::SecretsManager::Secret').map(([id]) => id).filter((id) => id.includes('HostSecrets')), []);
  });
});
