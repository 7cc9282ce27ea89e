import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fullProps, hostProps, refsIn, resourcesOf, synthStack } from './stackFixture.ts';
import type { PgVigilStackProps } from '../../cdk/pgvigilStack.ts';
import { parameterAccess } from './parameterAccess.ts';
import { fixedItems } from '../bench/fixedCost.ts';

/**
 * How the cluster CA's certificate reaches the probe function (issue 14 item 2): the hosts'
 * bootstrap puts it in an SSM parameter of its own, apart from the CA key; the probe may read
 * that parameter and the monitoring password, and no function may write either. Issue 15: all of
 * it in SSM Parameter Store, no Secrets Manager secret left in the stack.
 */
const t = synthStack(hostProps).template;
const ids = resourcesOf(t, 'Custom::PgVigilHostParameter').map(([id]) => id);
const idOf = (part: string) => {
  const found = ids.filter((id) => id.includes(part) && !(part === 'ClusterCa' && id.includes('ClusterCaCert')));
  assert.equal(found.length, 1, `one host parameter named like ${part}: ${ids.join(', ')}`);
  return found[0]!;
};
const access = parameterAccess(t);
const probeRole = access.roleIds.find((id) => id.includes('FunctionsprobeRole'))!;

describe('the probe verifies the nodes with the cluster CA certificate', () => {
  test('the probe reads the monitoring password and the CA certificate, never the CA key (denied outright)', () => {
    assert.deepEqual(access.reads(probeRole, ids), [idOf('ClusterCaCert'), idOf('MonitorPassword')].sort());
    assert.ok(!access.reads(probeRole, ids).includes(idOf('ClusterCa')), 'the CA key would let the probe issue certificates every node trusts');
  });

  test('the probe is told where the certificate is', () => {
    const probe = resourcesOf(t, 'AWS::Lambda::Function').find(([, p]) => refsIn(p.Role)[0] === probeRole)!;
    assert.deepEqual(refsIn(probe[1].Environment.Variables.PGVIGIL_CA_CERT_PARAMETER), [idOf('ClusterCaCert')]);
    assert.deepEqual(refsIn(probe[1].Environment.Variables.PGVIGIL_MONITOR_PARAMETER), [idOf('MonitorPassword')]);
  });

  test('only the hosts may put the CA (the first host) and its certificate (any host); no function writes one', () => {
    for (const role of access.roleIds) {
      const puts = access.puts(role, ids);
      if (role.includes('AgentRole')) assert.deepEqual(puts, (role.includes('AgentRoledemopga') ? [idOf('ClusterCa'), idOf('ClusterCaCert')] : [idOf('ClusterCaCert')]).sort(), role);
      else assert.deepEqual(puts, [], role);
    }
  });

  test("each host's bootstrap is given the certificate parameter (certParameter in its config), and no secret", () => {
    const instances = resourcesOf(t, 'AWS::EC2::Instance');
    assert.equal(instances.length, 3);
    for (const [id, p] of instances) {
      const userData = JSON.stringify(p.UserData);
      assert.match(userData, /certParameter/, id);
      assert.doesNotMatch(userData, /secretId|certSecretId/i, id);
      assert.ok(refsIn(p.UserData).includes(idOf('ClusterCaCert')), `${id}'s user data names the certificate parameter`);
      for (const part of ['MonitorPassword', 'ReplicationPassword', 'ClusterCa']) assert.ok(refsIn(p.UserData).includes(idOf(part)), `${id}: ${part}`);
    }
  });

  test('without database hosts there is no CA and the probe is given none', () => {
    const bare = synthStack(fullProps).template;
    assert.deepEqual(resourcesOf(bare, 'Custom::PgVigilHostParameter'), []);
    assert.ok(resourcesOf(bare, 'AWS::Lambda::Function').every(([, p]) => !p.Environment?.Variables?.PGVIGIL_CA_CERT_PARAMETER && !p.Environment?.Variables?.PGVIGIL_CA_CERT_SECRET_ARN));
  });
});

describe('no Secrets Manager secret is left in the stack (issue 15: 0.40 USD a month each)', () => {
  const nodes = ['a', 'b', 'c'].map((name, i) => ({ name, host: `10.0.0.${i + 1}`, port: 5432, agent: `https://10.0.0.${i + 1}:8008` }));
  const cases: Array<[string, PgVigilStackProps]> = [
    ['with dbHosts', hostProps],
    ['without dbHosts (the demo)', fullProps],
    ['watching hand-installed hosts', { ...fullProps, clusters: [{ cluster: 'c1', nodes }] }],
  ];
  for (const [what, props] of cases) {
    test(what, () => {
      const template = synthStack(props).template;
      assert.deepEqual(resourcesOf(template, 'AWS::SecretsManager::Secret').map(([id]) => id), []);
      const policyText = JSON.stringify([...resourcesOf(template, 'AWS::IAM::Policy'), ...resourcesOf(template, 'AWS::IAM::ManagedPolicy')]);
      assert.doesNotMatch(policyText, /secretsmanager:/, 'no role is granted a Secrets Manager call');
    });
  }

  test("the bench's fixed items: secrets 0, every parameter standard (free)", () => {
    const items = fixedItems({ cluster: 'c1', nodes });
    const secrets = items.find((i) => i.name === 'secrets')!;
    assert.deepEqual([secrets.count, secrets.usd], [0, 0]);
    const advanced = items.find((i) => i.name === 'SSM parameters: advanced')!;
    assert.deepEqual([advanced.count, advanced.usd], [0, 0]);
    assert.match(advanced.detail, /^0 advanced; 7 standard/, 'three agent keys and four host parameters');
  });
});
