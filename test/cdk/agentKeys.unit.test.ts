import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { hostProps, identityStatements, refsIn, resourcesOf, synthStack } from './stackFixture.ts';

/**
 * The agent channel's keys as the template states them (issue 15): one secret per node, which
 * that node's host alone reads and which act and decide read to sign; nobody else reads any.
 * A host that could read another node's key could sign requests that node's agent obeys.
 */
const t = synthStack(hostProps).template;
const all = t.toJSON() as { Outputs: Record<string, { Value: unknown }> };
const NODES = ['pg-a', 'pg-b', 'pg-c'];
const keySecrets = resourcesOf(t, 'AWS::SecretsManager::Secret').filter(([id]) => id.includes('AgentKey'));
const keyIds = keySecrets.map(([id]) => id);
const keyOf = (node: string) => {
  const ids = keyIds.filter((id) => id.includes(`AgentKeydemo${node.replace('-', '')}`));
  assert.equal(ids.length, 1, `one agent key secret for ${node}: ${keyIds.join(', ')}`);
  return ids[0]!;
};
const roles = resourcesOf(t, 'AWS::IAM::Role').map(([id]) => id);
const roleOf = (part: string) => {
  const ids = roles.filter((id) => id.includes(part));
  assert.equal(ids.length, 1, `one role named like ${part}: ${ids.join(', ')}`);
  return ids[0]!;
};

/** Agent key secrets a role may read (GetSecretValue, or any secretsmanager:* action), by logical id. */
function readSet(role: string): string[] {
  const reads = /^secretsmanager:(GetSecretValue|\*)$|^\*$/;
  return [
    ...new Set(
      identityStatements(t)
        .filter(({ roles: rs, st }) => st.Effect === 'Allow' && rs.includes(role) && [st.Action].flat().some((a) => reads.test(a)))
        .flatMap(({ st }) => refsIn(st.Resource).filter((r) => keyIds.includes(r))),
    ),
  ].sort();
}

describe('the agent channel: a key per node, read by its host and the signers only', () => {
  test('one agent key secret per node, named <prefix><cluster>/<node> under the prefix the stack outputs', () => {
    assert.equal(keySecrets.length, NODES.length);
    const output = Object.entries(all.Outputs).find(([id]) => id.includes('AgentKeySecretPrefix'));
    assert.ok(output, 'the prefix is an output');
    const prefix = output[1].Value;
    assert.equal(typeof prefix, 'string');
    for (const node of NODES) {
      const [, props] = keySecrets.find(([id]) => id === keyOf(node))!;
      assert.equal(props.Name, `${prefix}demo/${node}`);
      assert.ok(props.GenerateSecretString, `${node}'s key is generated at deploy, never in the template`);
    }
  });

  test("each host's role reads its own node's key and no other", () => {
    for (const node of NODES) assert.deepEqual(readSet(roleOf(`AgentRoledemo${node.replace('-', '')}`)), [keyOf(node)], node);
  });

  test('act and decide read every node\'s key (they sign); the probe and notify read none', () => {
    const everyKey = NODES.map(keyOf).sort();
    assert.deepEqual(readSet(roleOf('FunctionsdecideRole')), everyKey);
    assert.deepEqual(readSet(roleOf('FunctionsactRole')), everyKey);
    assert.deepEqual(readSet(roleOf('FunctionsprobeRole')), []);
    assert.deepEqual(readSet(roleOf('FunctionsnotifyRole')), []);
  });

  test('no other principal reads an agent key', () => {
    const readers = roles.filter((r) => readSet(r).length > 0).sort();
    const expected = [roleOf('FunctionsdecideRole'), roleOf('FunctionsactRole'), ...NODES.map((n) => roleOf(`AgentRoledemo${n.replace('-', '')}`))].sort();
    assert.deepEqual(readers, expected);
  });

  test('act and decide are told where the keys are; no function gets a key in its environment', () => {
    const fns = resourcesOf(t, 'AWS::Lambda::Function');
    for (const [id, p] of fns) {
      const env = (p.Environment?.Variables ?? {}) as Record<string, unknown>;
      const signer = refsIn(p.Role).some((r) => r === roleOf('FunctionsdecideRole') || r === roleOf('FunctionsactRole'));
      assert.equal(env['PGVIGIL_AGENT_KEY_SECRET_PREFIX'] !== undefined, signer, `${id}: PGVIGIL_AGENT_KEY_SECRET_PREFIX only on act and decide`);
      assert.equal(env['PGVIGIL_AGENT_KEY'], undefined, id);
      assert.deepEqual(refsIn(env).filter((r) => keyIds.includes(r)), [], `${id}'s environment refers to no key secret`);
    }
  });

  test("each host's user data names its own key's secret (the agent reads it, keySecret) and writes no key file", () => {
    const instances = resourcesOf(t, 'AWS::EC2::Instance');
    assert.equal(instances.length, NODES.length);
    for (const node of NODES) {
      const [id, p] = instances.find(([iid]) => iid.includes(node.replace('-', '')))!;
      const named = refsIn(p.UserData).filter((r) => keyIds.includes(r));
      assert.deepEqual(named, [keyOf(node)], id);
      const text = JSON.stringify(p.UserData);
      assert.match(text, /keySecret/, id);
      assert.doesNotMatch(text, /agent\.key/, `${id} writes no key file`);
    }
  });
});

describe('the agent channel is HTTPS with the cluster CA', () => {
  const secretIds = resourcesOf(t, 'AWS::SecretsManager::Secret').map(([id]) => id);
  const caCert = secretIds.find((id) => id.includes('ClusterCaCert'))!;
  const caKey = secretIds.find((id) => id.includes('ClusterCa') && !id.includes('ClusterCaCert'))!;
  const reads = (role: string) =>
    identityStatements(t)
      .filter(({ roles: rs, st }) => st.Effect === 'Allow' && rs.includes(role) && [st.Action].flat().some((a) => /^secretsmanager:(GetSecretValue|\*)$/.test(a)))
      .flatMap(({ st }) => refsIn(st.Resource));

  test('act and decide read the CA certificate to check the agents by, never the CA key, and are told where it is', () => {
    for (const name of ['FunctionsdecideRole', 'FunctionsactRole']) {
      const r = reads(roleOf(name));
      assert.ok(r.includes(caCert), `${name} reads the CA certificate`);
      assert.ok(!r.includes(caKey), `${name} never reads the CA key`);
    }
    const signers = resourcesOf(t, 'AWS::Lambda::Function').filter(([, p]) => p.Environment?.Variables?.PGVIGIL_AGENT_KEY_SECRET_PREFIX);
    assert.equal(signers.length, 2);
    for (const [id, p] of signers) assert.deepEqual(refsIn(p.Environment.Variables.PGVIGIL_CA_CERT_SECRET_ARN), [caCert], id);
  });

  test("each host's agent serves HTTPS with its bootstrap certificate, and the spec calls it by https", () => {
    for (const [id, p] of resourcesOf(t, 'AWS::EC2::Instance')) {
      const text = JSON.stringify(p.UserData);
      assert.match(text, /\\"tls\\": \{\\n\s+\\"certFile\\": \\"\/var\/lib\/pgvigil\/host\/tls\/server\.crt/, id);
    }
    const decide = resourcesOf(t, 'AWS::Lambda::Function').find(([, p]) => p.Environment?.Variables?.PGVIGIL_ACT_FUNCTION)!;
    const clusters = JSON.parse(decide[1].Environment.Variables.PGVIGIL_CLUSTERS) as Array<{ nodes: Array<{ agent: string }> }>;
    for (const n of clusters[0]!.nodes) assert.match(n.agent, /^https:\/\//);
  });
});
