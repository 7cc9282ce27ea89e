import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fullProps, identityStatements, refsIn, resourcesOf, synthStack } from './stackFixture.ts';
import { parameterAccess } from './parameterAccess.ts';

/*
 * Issue 14, the manual install: hosts a user sets up by hand run the same bootstrap as the
 * stack's own hosts, which reads the monitoring and replication passwords and the cluster CA
 * from SSM Parameter Store (issue 15: SecureString parameters, no monthly fee, instead of
 * Secrets Manager secrets at 0.40 USD each). A stack that watches one cluster without building its
 * hosts creates those parameters, lets the hosts and the probe read what each needs, and outputs
 * their names for the bootstrap config; without them the probe would log in as the superuser
 * without TLS, which a bootstrapped host refuses.
 */
const nodes = ['a', 'b', 'c'].map((name, i) => ({ name, host: `10.42.3.${20 + i}`, port: 5432, agent: `https://10.42.3.${20 + i}:8008` }));
const t = synthStack({ ...fullProps, clusters: [{ cluster: 'orders', nodes }] }).template;
const hostParameters = resourcesOf(t, 'Custom::PgVigilHostParameter');
const ids = hostParameters.map(([id]) => id);
const idOf = (part: string) => {
  const found = ids.filter((id) => id.includes(part) && !(part === 'ClusterCa' && id.includes('ClusterCaCert')));
  assert.equal(found.length, 1, `one host parameter named like ${part}: ${ids.join(', ')}`);
  return found[0]!;
};
const access = parameterAccess(t);
const roleOf = (part: string) => {
  const found = access.roleIds.filter((id) => id.includes(part));
  assert.equal(found.length, 1, `one role named like ${part}: ${found.join(', ')}`);
  return found[0]!;
};
const PREFIX = '/pgvigil/PgVigilTest/host/orders/';

describe('a stack watching hand-installed hosts creates the parameters their bootstrap reads', () => {
  test('four standard SecureString parameters made by the custom resource, no value in the template, no secret; their names are outputs for the bootstrap config', () => {
    assert.deepEqual(hostParameters.map(([, p]) => p.Name).sort(), ['cluster-ca', 'cluster-ca-cert', 'monitor-password', 'replication-password'].map((n) => PREFIX + n));
    for (const [id, p] of hostParameters) {
      assert.deepEqual(Object.keys(p).sort(), ['Cluster', 'KeyId', 'Name', 'Purpose', 'ServiceToken', 'Tier'], `${id}: where the value goes and under which key, never the value`);
      assert.equal(p.Tier, 'Standard', `${id}: no monthly fee`);
      assert.equal(p.Cluster, 'orders');
    }
    assert.deepEqual(resourcesOf(t, 'AWS::SecretsManager::Secret').map(([id]) => id), []);
    const outputs = t.toJSON().Outputs as Record<string, { Value: unknown }>;
    for (const [output, part] of [
      ['MonitorPasswordParameterName', 'MonitorPassword'],
      ['ReplicationPasswordParameterName', 'ReplicationPassword'],
      ['ClusterCaParameterName', 'ClusterCa'],
      ['ClusterCaCertParameterName', 'ClusterCaCert'],
    ] as const) {
      const found = Object.entries(outputs).find(([k]) => k.includes(output));
      assert.ok(found, `output ${output}`);
      assert.deepEqual(refsIn(found[1].Value), [idOf(part)], output);
    }
    assert.equal(Object.keys(outputs).filter((k) => /SecretArn/.test(k)).length, 0, 'no secret ARN is output any more');
  });

  test('the probe reads the monitoring password and the CA certificate, never the CA key, and is told where they are', () => {
    const probeRole = roleOf('FunctionsprobeRole');
    assert.deepEqual(access.reads(probeRole, ids), [idOf('ClusterCaCert'), idOf('MonitorPassword')].sort());
    const probe = resourcesOf(t, 'AWS::Lambda::Function').find(([, p]) => refsIn(p.Role)[0] === probeRole)!;
    const env = probe[1].Environment.Variables;
    assert.deepEqual(refsIn(env.PGVIGIL_MONITOR_PARAMETER), [idOf('MonitorPassword')]);
    assert.deepEqual(refsIn(env.PGVIGIL_CA_CERT_PARAMETER), [idOf('ClusterCaCert')]);
    assert.equal(env.PGVIGIL_MONITOR_SECRET_ARN, undefined);
    assert.equal(env.PGVIGIL_CA_CERT_SECRET_ARN, undefined);
  });

  test("the hosts read all four, though their SSM core policy reads any parameter, and only their own cluster's; the first host alone may put the CA, any host its certificate; no function writes one", () => {
    const handler = roleOf('ParametersonEventServiceRole');
    for (const role of access.roleIds) {
      const puts = access.puts(role, ids);
      if (role.includes('AgentRoleorders')) {
        assert.ok(access.coreManaged(role), role);
        assert.deepEqual(access.reads(role, ids), [...ids].sort(), role);
        const first = role.includes('AgentRoleordersa');
        assert.deepEqual(puts, (first ? [idOf('ClusterCa'), idOf('ClusterCaCert')] : [idOf('ClusterCaCert')]).sort(), role);
      } else if (role === handler) {
        // The custom resource makes them: its role names each by its ARN (the name in it, known at synth).
        const text = JSON.stringify(identityStatements(t).filter(({ roles, st }) => roles.includes(role) && [st.Action].flat().includes('ssm:PutParameter')).map(({ st }) => st.Resource));
        for (const [, p] of hostParameters) assert.ok(text.includes(`:parameter${p.Name}`), `the handler may put ${p.Name}`);
      } else {
        assert.deepEqual(puts, [], role);
        if (!/Functions(probe|act|decide)Role/.test(role)) assert.deepEqual(access.reads(role, ids), [], role);
      }
    }
  });

  test('act and decide read the CA certificate, never the CA key, which is denied to them and to the probe outright', () => {
    for (const name of ['FunctionsactRole', 'FunctionsdecideRole']) assert.deepEqual(access.reads(roleOf(name), ids), [idOf('ClusterCaCert')], name);
    for (const fn of resourcesOf(t, 'AWS::Lambda::Function').filter(([, p]) => p.Environment?.Variables?.PGVIGIL_CA_CERT_PARAMETER)) {
      assert.deepEqual(refsIn(fn[1].Environment.Variables.PGVIGIL_CA_CERT_PARAMETER), [idOf('ClusterCaCert')], fn[0]);
    }
  });

  test('the demo without hosts watches nothing and creates no host parameters', () => {
    const demo = synthStack(fullProps).template;
    assert.deepEqual(resourcesOf(demo, 'Custom::PgVigilHostParameter'), []);
    assert.deepEqual(resourcesOf(demo, 'AWS::SecretsManager::Secret'), []);
  });
});
