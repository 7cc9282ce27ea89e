import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { hostProps, identityStatements, refsIn, resourcesOf, synthStack, type PolicyStatement } from './stackFixture.ts';

/**
 * The agent channel's keys as the template states them (issue 15): one SSM SecureString
 * parameter per node, which that node's host alone reads and which act and decide read to sign;
 * nobody else reads any. A host that could read another node's key could sign requests that
 * node's agent obeys.
 *
 * Under the AWS managed key aws/ssm every principal of the account may decrypt through SSM (SSM
 * User Guide, "Restricting decryption of SecureString parameter values"), so ssm:GetParameter is
 * the whole of who reads a key. The hosts' roles carry AmazonSSMManagedInstanceCore, which allows
 * ssm:GetParameter and ssm:GetParameters on "*" (AWS Managed Policy Reference,
 * AmazonSSMManagedInstanceCore v2): that grant is counted here, as IAM would, with the roles'
 * explicit denies taken off.
 */
const t = synthStack(hostProps).template;
const all = t.toJSON() as { Outputs: Record<string, { Value: unknown }>; Resources: Record<string, { Type: string; Properties?: Record<string, any> }> };
const NODES = ['pg-a', 'pg-b', 'pg-c'];
const keyParameters = resourcesOf(t, 'Custom::PgVigilAgentKeyParameter');
const keyIds = keyParameters.map(([id]) => id);
const keyOf = (node: string) => {
  const ids = keyIds.filter((id) => id.includes(`AgentKeydemo${node.replace('-', '')}`));
  assert.equal(ids.length, 1, `one agent key parameter for ${node}: ${keyIds.join(', ')}`);
  return ids[0]!;
};
const roles = resourcesOf(t, 'AWS::IAM::Role');
const roleIds = roles.map(([id]) => id);
const roleOf = (part: string) => {
  const ids = roleIds.filter((id) => id.includes(part));
  assert.equal(ids.length, 1, `one role named like ${part}: ${ids.join(', ')}`);
  return ids[0]!;
};

/** An IAM action pattern (wildcards allowed) against one action. */
const allows = (pattern: string, action: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`, 'i').test(action);
const names = (st: PolicyStatement, action: string) => [st.Action].flat().some((p) => allows(p, action));
const coreManaged = (role: string) => JSON.stringify(roles.find(([id]) => id === role)![1].ManagedPolicyArns ?? []).includes('AmazonSSMManagedInstanceCore');

/** Agent key parameters a role can read the value of (GetParameter or GetParameters), by logical id: allowed and not denied. */
function readSet(role: string): string[] {
  const sts = identityStatements(t).filter(({ roles: rs }) => rs.includes(role)).map(({ st }) => st);
  const keysIn = (st: PolicyStatement) => ([st.Resource].flat().includes('*') ? keyIds : refsIn(st.Resource).filter((r) => keyIds.includes(r)));
  const read = new Set<string>();
  for (const action of ['ssm:GetParameter', 'ssm:GetParameters']) {
    const allowed = new Set(sts.filter((st) => st.Effect === 'Allow' && names(st, action)).flatMap(keysIn));
    if (coreManaged(role)) for (const k of keyIds) allowed.add(k);
    const denied = new Set(sts.filter((st) => st.Effect === 'Deny' && names(st, action)).flatMap(keysIn));
    for (const k of allowed) if (!denied.has(k)) read.add(k);
  }
  return [...read].sort();
}

describe('the agent channel: a key per node, read by its host and the signers only', () => {
  test('one agent key parameter per node, named <prefix><cluster>/<node> under the prefix the stack outputs, made by the custom resource and holding no value in the template', () => {
    assert.equal(keyParameters.length, NODES.length);
    const output = Object.entries(all.Outputs).find(([id]) => id.includes('AgentKeyParameterPrefix'));
    assert.ok(output, 'the prefix is an output');
    const prefix = output[1].Value;
    assert.equal(typeof prefix, 'string');
    assert.match(String(prefix), /^\/pgvigil\/PgVigilTest\/agent-key\/$/);
    for (const node of NODES) {
      const [, props] = keyParameters.find(([id]) => id === keyOf(node))!;
      assert.equal(props.Name, `${prefix}demo/${node}`);
      // Only where the key goes: the key itself is made by the handler at deploy.
      assert.deepEqual(Object.keys(props).sort(), ['Cluster', 'KeyId', 'Name', 'Node', 'ServiceToken', 'Tier'], 'KeyId: put under the stack key');
      assert.deepEqual([props.Cluster, props.Node, props.Tier], ['demo', node, 'Standard'], 'standard tier: no monthly fee');
    }
  });

  test('no Secrets Manager secret and no plain SSM parameter is left for the agent keys', () => {
    const agentKeySecrets = resourcesOf(t, 'AWS::SecretsManager::Secret').filter(([id, p]) => /AgentKey/i.test(id) || /agent-key/.test(JSON.stringify(p.Name ?? '')));
    assert.deepEqual(agentKeySecrets.map(([id]) => id), []);
    // The one clear parameter is the agent bundle's location (cdk/dbHosts.ts), no secret.
    const clear = resourcesOf(t, 'AWS::SSM::Parameter');
    assert.deepEqual(clear.filter(([, p]) => !/\/agent-bundle$/.test(String(p.Name))).map(([id]) => id), [], 'CloudFormation cannot make a SecureString: no AWS::SSM::Parameter in clear');
  });

  test("each host's role reads its own node's key and no other, though its SSM core policy reads any parameter", () => {
    for (const node of NODES) {
      const role = roleOf(`AgentRoledemo${node.replace('-', '')}`);
      assert.ok(coreManaged(role), `${node}: the role carries AmazonSSMManagedInstanceCore (Session Manager), so the denies are what keeps the others out`);
      assert.deepEqual(readSet(role), [keyOf(node)], node);
    }
  });

  test('no host may read the keys by path or through their history', () => {
    for (const node of NODES) {
      const sts = identityStatements(t).filter(({ roles: rs }) => rs.includes(roleOf(`AgentRoledemo${node.replace('-', '')}`))).map(({ st }) => st);
      assert.ok(sts.some((st) => st.Effect === 'Deny' && names(st, 'ssm:GetParametersByPath') && st.Resource === '*'), `${node}: GetParametersByPath denied`);
      const historyDenied = sts.filter((st) => st.Effect === 'Deny' && names(st, 'ssm:GetParameterHistory')).flatMap((st) => refsIn(st.Resource)).filter((r) => keyIds.includes(r)).sort();
      assert.deepEqual(historyDenied, NODES.filter((n) => n !== node).map(keyOf).sort(), `${node}: the others' history denied`);
    }
  });

  test("act and decide read every node's key (they sign); the probe, notify and the key handler read none", () => {
    const everyKey = NODES.map(keyOf).sort();
    assert.deepEqual(readSet(roleOf('FunctionsdecideRole')), everyKey);
    assert.deepEqual(readSet(roleOf('FunctionsactRole')), everyKey);
    assert.deepEqual(readSet(roleOf('FunctionsprobeRole')), []);
    assert.deepEqual(readSet(roleOf('FunctionsnotifyRole')), []);
    assert.deepEqual(readSet(roleOf('ParametersonEventServiceRole')), []);
  });

  test('no other principal reads an agent key', () => {
    const readers = roleIds.filter((r) => readSet(r).length > 0).sort();
    const expected = [roleOf('FunctionsdecideRole'), roleOf('FunctionsactRole'), ...NODES.map((n) => roleOf(`AgentRoledemo${n.replace('-', '')}`))].sort();
    assert.deepEqual(readers, expected);
  });

  test("the parameter handler may put and delete exactly the nodes' key parameters and the cluster's host parameters, nothing more; the Provider framework only invokes it", () => {
    const handlerRole = roleOf('ParametersonEventServiceRole');
    const sts = identityStatements(t).filter(({ roles: rs }) => rs.includes(handlerRole)).map(({ st }) => st);
    assert.ok(sts.every((st) => st.Effect === 'Allow'));
    const ssmSts = sts.filter((st) => [st.Action].flat().every((a) => a.startsWith('ssm:')));
    // GetParameter: an Update moving a parameter under the stack key reads its value to put it back unchanged.
    assert.deepEqual([...new Set(ssmSts.flatMap((st) => [st.Action].flat()))].sort(), ['ssm:DeleteParameter', 'ssm:GetParameter', 'ssm:PutParameter']);
    // The key: through SSM and under each of its parameters' own contexts, never anything else.
    const kmsSts = sts.filter((st) => !ssmSts.includes(st));
    assert.equal(kmsSts.length, ssmSts.length);
    for (const st of kmsSts) {
      assert.deepEqual([st.Action].flat().sort(), ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']);
      assert.ok(st.Condition?.['StringEquals']?.['kms:ViaService'] && st.Condition['StringEquals']['kms:EncryptionContext:PARAMETER_ARN']);
    }
    const arns = ssmSts.map((st) => JSON.stringify(st.Resource));
    const hostParameters = ['cluster-ca', 'cluster-ca-cert', 'monitor-password', 'replication-password'].map((p) => `/pgvigil/PgVigilTest/host/demo/${p}`);
    assert.deepEqual(arns.map((a) => /:parameter(\/[^"]+)"/.exec(a)?.[1]).sort(), [...NODES.map((n) => `/pgvigil/PgVigilTest/agent-key/demo/${n}`), ...hostParameters].sort());
    for (const a of arns) assert.match(a, /:ssm:/);
    // The framework's role: invoke (and describe) the handler, nothing of SSM.
    const framework = roleOf('ProviderframeworkonEventServiceRole');
    const fsts = identityStatements(t).filter(({ roles: rs }) => rs.includes(framework)).map(({ st }) => st);
    assert.ok(fsts.length > 0);
    for (const st of fsts) for (const a of [st.Action].flat()) assert.match(a, /^lambda:(InvokeFunction|GetFunction)$/, `framework: ${a}`);
  });

  test('act and decide are told where the keys are; no function gets a key or a key reference in its environment', () => {
    const fns = resourcesOf(t, 'AWS::Lambda::Function');
    for (const [id, p] of fns) {
      const env = (p.Environment?.Variables ?? {}) as Record<string, unknown>;
      const signer = refsIn(p.Role).some((r) => r === roleOf('FunctionsdecideRole') || r === roleOf('FunctionsactRole'));
      assert.equal(env['PGVIGIL_AGENT_KEY_PARAMETER_PREFIX'] !== undefined, signer, `${id}: PGVIGIL_AGENT_KEY_PARAMETER_PREFIX only on act and decide`);
      if (signer) assert.equal(env['PGVIGIL_AGENT_KEY_PARAMETER_PREFIX'], '/pgvigil/PgVigilTest/agent-key/');
      assert.equal(env['PGVIGIL_AGENT_KEY'], undefined, id);
      assert.equal(env['PGVIGIL_AGENT_KEY_SECRET_PREFIX'], undefined, id);
      assert.deepEqual(refsIn(env).filter((r) => keyIds.includes(r)), [], `${id}'s environment refers to no key parameter`);
    }
  });

  test("each host's user data names its own key's parameter (the agent reads it, keyParameter) and writes no key file", () => {
    const instances = resourcesOf(t, 'AWS::EC2::Instance');
    assert.equal(instances.length, NODES.length);
    for (const node of NODES) {
      const [id, p] = instances.find(([iid]) => iid.includes(node.replace('-', '')))!;
      const named = refsIn(p.UserData).filter((r) => keyIds.includes(r));
      assert.deepEqual(named, [keyOf(node)], id);
      const text = JSON.stringify(p.UserData);
      assert.match(text, /keyParameter/, id);
      assert.doesNotMatch(text, /keySecret/, id);
      assert.doesNotMatch(text, /agent\.key/, `${id} writes no key file`);
    }
  });
});

describe('the agent channel is HTTPS with the cluster CA', () => {
  const hostIds = resourcesOf(t, 'Custom::PgVigilHostParameter').map(([id]) => id);
  const caCert = hostIds.find((id) => id.includes('ClusterCaCert'))!;
  const caKey = hostIds.find((id) => id.includes('ClusterCa') && !id.includes('ClusterCaCert'))!;
  /** Host parameters a role may read, counted as readSet counts the keys: allowed and not denied. */
  const reads = (role: string) => {
    const sts = identityStatements(t).filter(({ roles: rs }) => rs.includes(role)).map(({ st }) => st);
    const of = (st: PolicyStatement) => refsIn(st.Resource).filter((r) => hostIds.includes(r));
    const denied = new Set(sts.filter((st) => st.Effect === 'Deny' && names(st, 'ssm:GetParameter')).flatMap(of));
    return sts.filter((st) => st.Effect === 'Allow' && names(st, 'ssm:GetParameter')).flatMap(of).filter((r) => !denied.has(r));
  };

  test('act and decide read the CA certificate to check the agents by, never the CA key (denied outright), and are told where it is', () => {
    for (const name of ['FunctionsdecideRole', 'FunctionsactRole']) {
      const r = reads(roleOf(name));
      assert.ok(r.includes(caCert), `${name} reads the CA certificate`);
      assert.ok(!r.includes(caKey), `${name} never reads the CA key`);
      const denies = identityStatements(t).filter(({ roles: rs, st }) => rs.includes(roleOf(name)) && st.Effect === 'Deny' && names(st, 'ssm:GetParameter'));
      assert.ok(denies.some(({ st }) => refsIn(st.Resource).includes(caKey)), `${name}: the CA key denied, whatever else is granted`);
    }
    const signers = resourcesOf(t, 'AWS::Lambda::Function').filter(([, p]) => p.Environment?.Variables?.PGVIGIL_AGENT_KEY_PARAMETER_PREFIX);
    assert.equal(signers.length, 2);
    for (const [id, p] of signers) {
      assert.deepEqual(refsIn(p.Environment.Variables.PGVIGIL_CA_CERT_PARAMETER), [caCert], id);
      assert.equal(p.Environment.Variables.PGVIGIL_CA_CERT_SECRET_ARN, undefined, id);
    }
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
