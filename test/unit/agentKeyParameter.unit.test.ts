import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { agentKeyParameterEvent } from '../../lib/control/agentKeyParameterEvent.ts';
import { collectingLog, type LogEntry } from '../../lib/log.ts';
import { ssmWire } from '../support/ssmWire.ts';

/**
 * The custom resource that makes each node's agent key (cdk/agentKeyParameter.ts), its logic as
 * the Provider framework calls it, against SSM cut off at the wire: what it puts and deletes, and
 * that the key never leaves it but in the PutParameter request to SSM.
 */
const NAME = '/pgvigil/PgVigil/agent-key/demo/pg-a';
const props = (name = NAME) => ({ ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:framework', Name: name, Cluster: 'demo', Node: 'pg-a', Tier: 'Standard' });
const create = (name = NAME) => ({ RequestType: 'Create', RequestId: 'r1', StackId: 'arn:stack', LogicalResourceId: 'AgentKey', ResourceType: 'Custom::PgVigilAgentKeyParameter', ResourceProperties: props(name) });

describe('agent key parameter custom resource', () => {
  test('Create puts a new 64-character key as a standard SecureString, never overwriting, and answers the name only', async () => {
    const s = ssmWire();
    const lines: LogEntry[] = [];
    const answer = await agentKeyParameterEvent(create(), s.ssm, collectingLog(lines));
    assert.deepEqual(answer, { PhysicalResourceId: NAME }, 'no Data: the key is in no response, template or event');
    const calls = s.calls();
    assert.equal(calls.length, 1);
    const [put] = calls;
    assert.equal(put!.op, 'PutParameter');
    assert.equal(put!.body['Name'], NAME);
    assert.equal(put!.body['Type'], 'SecureString');
    assert.equal(put!.body['Tier'], 'Standard');
    assert.equal(put!.body['Overwrite'], false);
    assert.equal(put!.body['KeyId'], undefined, 'the AWS managed key aws/ssm');
    assert.match(String(put!.body['Description']), /demo\/pg-a/);
    const key = String(put!.body['Value']);
    assert.match(key, /^[0-9a-f]{64}$/, '64 random characters, as openssl rand -hex 32 makes them');
    assert.equal(s.wire[0]!.hostname, 'ssm.eu-west-1.amazonaws.com');
    for (const text of [JSON.stringify(answer), JSON.stringify(lines)]) assert.ok(!text.includes(key), 'the key is neither answered nor logged');
    assert.ok(lines.some((l) => l.msg === 'agent key parameter created' && l.name === NAME));
  });

  test('each Create makes a key of its own', async () => {
    const s = ssmWire();
    await agentKeyParameterEvent(create(), s.ssm, collectingLog([]));
    await agentKeyParameterEvent(create('/pgvigil/PgVigil/agent-key/demo/pg-b'), s.ssm, collectingLog([]));
    const [a, b] = s.calls().map((c) => String(c.body['Value']));
    assert.notEqual(a, b);
  });

  test('a Create that finds the parameter there keeps the key in it: no overwrite, no failure', async () => {
    const s = ssmWire();
    s.parameters.set(NAME, { value: 'k'.repeat(64), type: 'SecureString' });
    const lines: LogEntry[] = [];
    const answer = await agentKeyParameterEvent(create(), s.ssm, collectingLog(lines));
    assert.deepEqual(answer, { PhysicalResourceId: NAME });
    assert.deepEqual(s.calls().map((c) => [c.op, c.body['Overwrite']]), [['PutParameter', false]], 'one put, never retried with Overwrite');
    assert.equal(s.parameters.get(NAME)!.value, 'k'.repeat(64), 'the key in use stays');
    assert.ok(lines.some((l) => l.msg === 'agent key parameter exists: kept as it is'));
  });

  test('Delete deletes the parameter it made; one already gone is no failure; a physical id that is not the name deletes nothing', async () => {
    const s = ssmWire();
    await agentKeyParameterEvent(create(), s.ssm, collectingLog([]));
    assert.ok(s.parameters.has(NAME));
    const del = { ...create(), RequestType: 'Delete', PhysicalResourceId: NAME };
    assert.deepEqual(await agentKeyParameterEvent(del, s.ssm, collectingLog([])), { PhysicalResourceId: NAME });
    assert.equal(s.parameters.has(NAME), false);
    assert.deepEqual(s.calls().map((c) => [c.op, c.body['Name']]), [['PutParameter', NAME], ['DeleteParameter', NAME]]);
    await agentKeyParameterEvent(del, s.ssm, collectingLog([]));
    assert.equal(s.calls().length, 3, 'asked again, ParameterNotFound taken as done');
    // A failed Create's physical id (the framework makes one up) names nothing of ours.
    await agentKeyParameterEvent({ ...del, PhysicalResourceId: 'r1-create-failed' }, s.ssm, collectingLog([]));
    assert.equal(s.calls().length, 3);
  });

  test('Update: the same name changes nothing; a new name is a new parameter, the old one left for the Delete CloudFormation sends', async () => {
    const s = ssmWire();
    await agentKeyParameterEvent(create(), s.ssm, collectingLog([]));
    const same = { ...create(), RequestType: 'Update', PhysicalResourceId: NAME, OldResourceProperties: props() };
    assert.deepEqual(await agentKeyParameterEvent(same, s.ssm, collectingLog([])), { PhysicalResourceId: NAME });
    assert.equal(s.calls().length, 1, 'no request: the key stays');
    const renamed = '/pgvigil/Other/agent-key/demo/pg-a';
    const moved = { ...same, ResourceProperties: props(renamed) };
    assert.deepEqual(await agentKeyParameterEvent(moved, s.ssm, collectingLog([])), { PhysicalResourceId: renamed });
    assert.deepEqual(s.calls().map((c) => [c.op, c.body['Name'], c.body['Overwrite']]).slice(1), [['PutParameter', renamed, false]]);
    assert.ok(s.parameters.has(NAME) && s.parameters.has(renamed));
  });

  test('an SSM refusal fails the event naming the parameter, never the key', async () => {
    const s = ssmWire();
    s.failNext('AccessDeniedException', 'User: arn:aws:sts::123456789012:assumed-role/x is not authorized to perform: ssm:PutParameter');
    await assert.rejects(
      () => agentKeyParameterEvent(create(), s.ssm, collectingLog([])),
      (e: Error) => {
        assert.match(e.message, new RegExp(`^SSM: cannot create ${NAME}: User: .* not authorized to perform: ssm:PutParameter`));
        assert.ok(!e.message.includes(String(s.calls()[0]!.body['Value'])), 'the key is not in the message');
        return true;
      },
    );
  });

  test('a malformed event is refused with the field named, before any request', async () => {
    const s = ssmWire();
    await assert.rejects(() => agentKeyParameterEvent({ ...create(), RequestType: 'Replace' }, s.ssm, collectingLog([])), /^Error: agent key parameter event: RequestType: RequestType must be Create, Update or Delete/);
    await assert.rejects(() => agentKeyParameterEvent({ ...create(), ResourceProperties: { ...props(), Name: 'no-slash' } }, s.ssm, collectingLog([])), /ResourceProperties\.Name: give Name as a fully qualified SSM parameter name/);
    await assert.rejects(() => agentKeyParameterEvent({ ...create(), ResourceProperties: { ...props(), Tier: 'Advanced' } }, s.ssm, collectingLog([])), /ResourceProperties\.Tier: Tier: the parameters are standard ones/);
    assert.equal(s.wire.length, 0);
  });
});

describe('host parameter custom resource (the same handler: cdk/hostSecrets.ts)', () => {
  const HOST = '/pgvigil/PgVigil/host/demo/';
  const hostCreate = (purpose: string) => ({
    RequestType: 'Create',
    RequestId: 'r1',
    StackId: 'arn:stack',
    LogicalResourceId: 'HostParameter',
    ResourceType: 'Custom::PgVigilHostParameter',
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:framework', Name: `${HOST}${purpose}`, Cluster: 'demo', Purpose: purpose, Tier: 'Standard' },
  });

  test('each of the four is a standard SecureString of 40 URL-safe characters (a password, or the placeholder the bootstrap reads as none), never overwriting, never answered or logged', async () => {
    const s = ssmWire();
    const lines: LogEntry[] = [];
    for (const purpose of ['monitor-password', 'replication-password', 'cluster-ca', 'cluster-ca-cert']) {
      const answer = await agentKeyParameterEvent(hostCreate(purpose), s.ssm, collectingLog(lines));
      assert.deepEqual(answer, { PhysicalResourceId: `${HOST}${purpose}` }, 'no Data');
    }
    const puts = s.calls();
    assert.deepEqual(puts.map((p) => [p.op, p.body['Type'], p.body['Tier'], p.body['Overwrite'], p.body['KeyId']]), Array(4).fill(['PutParameter', 'SecureString', 'Standard', false, undefined]));
    const values = puts.map((p) => String(p.body['Value']));
    for (const v of values) {
      assert.match(v, /^[A-Za-z0-9_-]{40}$/);
      assert.doesNotMatch(v, /BEGIN/, 'no PEM: the bootstrap and the probe read it as no CA, no certificate');
    }
    assert.equal(new Set(values).size, 4, 'each its own');
    assert.match(String(puts[2]!.body['Description']), /cluster CA \(certificate and key\).*no function reads it/);
    for (const v of values) assert.ok(!JSON.stringify(lines).includes(v), 'never logged');
    assert.ok(lines.some((l) => l.msg === 'cluster-ca parameter created'));
  });

  test('a repeated Create keeps the CA a host put there; Delete deletes the one it named', async () => {
    const s = ssmWire();
    s.parameters.set(`${HOST}cluster-ca`, { value: '{"cert":"-----BEGIN CERTIFICATE-----…","key":"…"}', type: 'SecureString' });
    await agentKeyParameterEvent(hostCreate('cluster-ca'), s.ssm, collectingLog([]));
    assert.match(s.parameters.get(`${HOST}cluster-ca`)!.value, /BEGIN CERTIFICATE/);
    await agentKeyParameterEvent({ ...hostCreate('cluster-ca'), RequestType: 'Delete', PhysicalResourceId: `${HOST}cluster-ca` }, s.ssm, collectingLog([]));
    assert.equal(s.parameters.has(`${HOST}cluster-ca`), false);
  });

  test('a purpose the handler does not know is refused naming the field', async () => {
    const s = ssmWire();
    const bad = hostCreate('ca-key');
    await assert.rejects(() => agentKeyParameterEvent(bad, s.ssm, collectingLog([])), /^Error: agent key parameter event: ResourceProperties\.Purpose: Purpose: give one of monitor-password, replication-password, cluster-ca, cluster-ca-cert/);
    assert.equal(s.wire.length, 0);
  });
});

describe('the parameters under a customer managed key (KeyId)', () => {
  const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const OLD_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000';
  const withKey = (keyId?: string) => ({ ...props(), ...(keyId ? { KeyId: keyId } : {}) });
  const update = (keyId?: string, oldKeyId?: string) => ({
    RequestType: 'Update',
    RequestId: 'r2',
    StackId: 'arn:stack',
    LogicalResourceId: 'AgentKey',
    ResourceType: 'Custom::PgVigilAgentKeyParameter',
    PhysicalResourceId: NAME,
    ResourceProperties: withKey(keyId),
    OldResourceProperties: withKey(oldKeyId),
  });

  test('Create sends the KeyId it is given, with Overwrite false', async () => {
    const s = ssmWire();
    await agentKeyParameterEvent({ ...create(), ResourceProperties: withKey(KEY) }, s.ssm, collectingLog([]));
    const [put] = s.calls();
    assert.equal(put!.op, 'PutParameter');
    assert.equal(put!.body['KeyId'], KEY);
    assert.equal(put!.body['Overwrite'], false);
  });

  test('an Update that gives a key the parameter was not put under reads the value and puts the same value back under it, Overwrite true', async () => {
    const s = ssmWire();
    s.parameters.set(NAME, { value: 'k'.repeat(64), type: 'SecureString' });
    const lines: LogEntry[] = [];
    const answer = await agentKeyParameterEvent(update(KEY), s.ssm, collectingLog(lines));
    assert.deepEqual(answer, { PhysicalResourceId: NAME });
    const calls = s.calls();
    assert.deepEqual(calls.map((c) => c.op), ['GetParameter', 'PutParameter']);
    assert.equal(calls[0]!.body['WithDecryption'], true);
    assert.equal(calls[1]!.body['KeyId'], KEY, 'put under the new key');
    assert.equal(calls[1]!.body['Overwrite'], true);
    assert.equal(calls[1]!.body['Type'], 'SecureString');
    assert.equal(calls[1]!.body['Tier'], 'Standard');
    assert.equal(s.parameters.get(NAME)!.value, 'k'.repeat(64), 'the key in use keeps its value');
    assert.ok(!JSON.stringify([answer, lines]).includes('k'.repeat(64)), 'the value is neither answered nor logged');
    // From one customer managed key to another: the same re-put.
    const s2 = ssmWire();
    s2.parameters.set(NAME, { value: 'v'.repeat(64), type: 'SecureString' });
    await agentKeyParameterEvent(update(KEY, OLD_KEY), s2.ssm, collectingLog([]));
    assert.equal(s2.calls()[1]!.body['KeyId'], KEY);
    assert.equal(s2.parameters.get(NAME)!.value, 'v'.repeat(64));
  });

  test('an Update under the same key, or with none, sends nothing; a parameter gone meanwhile is made again under the key', async () => {
    for (const [keyId, oldKeyId] of [[KEY, KEY], [undefined, undefined]] as const) {
      const s = ssmWire();
      s.parameters.set(NAME, { value: 'k'.repeat(64), type: 'SecureString' });
      await agentKeyParameterEvent(update(keyId, oldKeyId), s.ssm, collectingLog([]));
      assert.deepEqual(s.calls(), [], `KeyId ${keyId ?? 'none'}`);
    }
    const s = ssmWire();
    await agentKeyParameterEvent(update(KEY), s.ssm, collectingLog([]), () => 'n'.repeat(64));
    const calls = s.calls();
    assert.deepEqual(calls.map((c) => [c.op, c.body['Overwrite'], c.body['KeyId']]), [['GetParameter', undefined, undefined], ['PutParameter', false, KEY]]);
    assert.equal(s.parameters.get(NAME)!.value, 'n'.repeat(64));
  });

  test('a KeyId that is not a key ARN is refused naming the field', async () => {
    const s = ssmWire();
    await assert.rejects(agentKeyParameterEvent({ ...create(), ResourceProperties: withKey('alias/aws/ssm') }, s.ssm, collectingLog([])), /KeyId: give the KMS key ARN/);
    assert.deepEqual(s.calls(), []);
  });
});
