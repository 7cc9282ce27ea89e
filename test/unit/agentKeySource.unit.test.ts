import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { KEY_CACHE_MS, agentKeySource } from '../../lib/control/agentKeySource.ts';
import { parseLambdaEnv, type LambdaEnv } from '../../lib/control/lambdaEnv.ts';
import { ssmWire } from '../support/ssmWire.ts';

/**
 * What act and decide sign with on AWS (lib/control/agentKeySource.ts): each node's own
 * SecureString parameter, read with decryption, against SSM cut off at the wire. A rotation is
 * followed within KEY_CACHE_MS.
 */
const PREFIX = '/pgvigil/PgVigil/agent-key/';
const K1 = 'a'.repeat(64);
const K2 = 'b'.repeat(64);
const KB = 'c'.repeat(64);

function env(extra: Record<string, string> = {}): LambdaEnv {
  const parsed = parseLambdaEnv({
    PGVIGIL_TABLE: 'pgvigil',
    AWS_REGION: 'eu-west-1',
    PGVIGIL_CLUSTERS: JSON.stringify([{ cluster: 'demo', nodes: [{ name: 'pg-a', host: '10.0.0.1', port: 5432, agent: 'https://10.0.0.1:8008' }, { name: 'pg-b', host: '10.0.0.2', port: 5432, agent: 'https://10.0.0.2:8008' }] }]),
    PGVIGIL_AGENT_KEY_PARAMETER_PREFIX: PREFIX,
    ...extra,
  } as NodeJS.ProcessEnv);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

describe('agent key source on AWS: SSM Parameter Store', () => {
  const saved = process.env['PGVIGIL_AGENT_KEY'];
  delete process.env['PGVIGIL_AGENT_KEY'];
  test.after(() => {
    if (saved !== undefined) process.env['PGVIGIL_AGENT_KEY'] = saved;
  });

  test("signs for each node with that node's own parameter, decrypted, first line only", async () => {
    const s = ssmWire();
    s.parameters.set(`${PREFIX}demo/pg-a`, { value: `${K1}\n`, type: 'SecureString' });
    s.parameters.set(`${PREFIX}demo/pg-b`, { value: `${KB}\n${K1}`, type: 'SecureString' });
    const source = agentKeySource(env(), Date.now, { ssm: s.ssm });
    assert.ok(typeof source === 'function');
    assert.equal((await source({ cluster: 'demo', node: 'pg-a' })).toString(), K1);
    assert.equal((await source({ cluster: 'demo', node: 'pg-b' })).toString(), KB, 'the new key of a rotation signs; the second line is only the previous one');
    assert.deepEqual(s.calls().map((c) => [c.op, c.body['Name'], c.body['WithDecryption']]), [
      ['GetParameter', `${PREFIX}demo/pg-a`, true],
      ['GetParameter', `${PREFIX}demo/pg-b`, true],
    ]);
    assert.equal(s.wire[0]!.hostname, 'ssm.eu-west-1.amazonaws.com');
  });

  test('a key is read again only once KEY_CACHE_MS has passed, so a rotation is followed within it', async () => {
    const s = ssmWire();
    const name = `${PREFIX}demo/pg-a`;
    s.parameters.set(name, { value: K1, type: 'SecureString' });
    let now = 1_000_000;
    const source = agentKeySource(env(), () => now, { ssm: s.ssm });
    assert.ok(typeof source === 'function');
    assert.equal((await source({ cluster: 'demo', node: 'pg-a' })).toString(), K1);
    // The rotation: the new key first, the old one second (README: rotating the agent keys).
    s.parameters.set(name, { value: `${K2}\n${K1}`, type: 'SecureString' });
    now += KEY_CACHE_MS - 1;
    assert.equal((await source({ cluster: 'demo', node: 'pg-a' })).toString(), K1, 'within the cache time: the held key, which the agent still accepts');
    assert.equal(s.calls().length, 1);
    now += 1;
    assert.equal((await source({ cluster: 'demo', node: 'pg-a' })).toString(), K2);
    assert.equal(s.calls().length, 2);
  });

  test('a missing or empty parameter, and a refused read, fail naming the parameter, never a key', async () => {
    const s = ssmWire();
    const source = agentKeySource(env(), Date.now, { ssm: s.ssm });
    assert.ok(typeof source === 'function');
    await assert.rejects(() => source({ cluster: 'demo', node: 'pg-z' }), /SSM parameter \/pgvigil\/PgVigil\/agent-key\/demo\/pg-z holds no key: the stack creates one per node/);
    s.parameters.set(`${PREFIX}demo/pg-a`, { value: K1, type: 'SecureString' });
    s.failNext('AccessDeniedException', 'not authorized to perform: ssm:GetParameter');
    await assert.rejects(() => source({ cluster: 'demo', node: 'pg-a' }), (e: Error) => /cannot read \/pgvigil\/PgVigil\/agent-key\/demo\/pg-a: not authorized.*check that this host's or function's role may read it/.test(e.message) && !e.message.includes(K1));
  });

  test('without the prefix it says what to set; the local and lab sources need no SSM', () => {
    const { PGVIGIL_AGENT_KEY_PARAMETER_PREFIX: _p, ...rest } = env();
    assert.throws(() => agentKeySource(rest as LambdaEnv), /set PGVIGIL_AGENT_KEY_PARAMETER_PREFIX/);
    const s = ssmWire();
    assert.ok(typeof agentKeySource({ ...rest, PGVIGIL_AGENT_KEY_DIR: '/tmp/keys' } as LambdaEnv, Date.now, { ssm: s.ssm }) === 'function');
    assert.equal(s.wire.length, 0);
  });
});
