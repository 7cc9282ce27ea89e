import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgentKey, parseAgentConfig } from '../../lib/agent/agentConfig.ts';

const good = {
  cluster: 'demo',
  node: 'pg1',
  listen: { port: 8008 },
  dataDir: '/var/lib/postgresql/15/main',
  bindir: '/usr/lib/postgresql/15/bin',
  pgPort: 5432,
  stateDir: '/var/lib/pgvigil',
  lease: { ttlMs: 3000, renewEveryMs: 500 },
  store: { table: 'pgvigil', endpoint: 'http://127.0.0.1:4567' },
};

function reason(input: unknown): string {
  const r = parseAgentConfig(input);
  return r.ok ? 'accepted' : r.reason;
}

describe('agent config', () => {
  test('a minimal config gets its defaults', () => {
    const r = parseAgentConfig(good);
    assert.ok(r.ok);
    assert.equal(r.value.listen.host, '127.0.0.1');
    assert.equal(r.value.pgHost, '127.0.0.1');
    assert.equal(r.value.maxSkewMs, 5000);
    assert.equal(r.value.store?.region, 'us-east-1');
  });

  test('a bad field is named in one message', () => {
    assert.match(reason({ ...good, node: 'PG 1' }), /^agent config: node: /);
    assert.match(reason({ ...good, dataDir: 'relative/dir' }), /^agent config: dataDir: give the PostgreSQL data directory as an absolute path/);
    assert.match(reason({ ...good, listen: { port: 70000 } }), /^agent config: listen\.port: /);
    assert.match(reason({ ...good, lease: { ttlMs: 1000, renewEveryMs: 1000 } }), /^agent config: lease\.renewEveryMs: renewEveryMs must be shorter than ttlMs/);
    assert.match(reason({ ...good, store: { table: 'x' } }), /^agent config: store\.table: /);
    assert.match(reason({ ...good, surprise: 1 }), /^agent config: Unrecognized key: "surprise"/);
    const { pgPort: _omit, ...noPort } = good;
    assert.match(reason(noPort), /^agent config: pgPort: give the PostgreSQL port/);
  });

  test('key and keyFile together are refused', () => {
    assert.match(reason({ ...good, key: 'k'.repeat(40), keyFile: '/etc/pgvigil/key' }), /^agent config: key: give one of key, keyFile, keyParameter and keySecret/);
  });

  test('keyParameter (the hosts the stack builds) and keySecret (hosts deployed before) are key sources: one at a time, each checked', () => {
    const parameter = parseAgentConfig({ ...good, keyParameter: { name: '/pgvigil/PgVigil/agent-key/demo/pg1', region: 'eu-west-1' } });
    assert.ok(parameter.ok, parameter.ok ? '' : parameter.reason);
    assert.deepEqual(parameter.value.keyParameter, { name: '/pgvigil/PgVigil/agent-key/demo/pg1', region: 'eu-west-1' });
    assert.ok(parseAgentConfig({ ...good, keyParameter: { name: 'arn:aws:ssm:eu-west-1:123456789012:parameter/pgvigil/PgVigil/agent-key/demo/pg1' } }).ok, 'an ARN names a parameter too');
    assert.ok(parseAgentConfig({ ...good, keySecret: { secretId: 'pgvigil/PgVigil/agent-key/demo/pg1' } }).ok, 'keySecret still works');
    assert.match(reason({ ...good, keyParameter: { name: '/pgvigil/x', region: 'eu-west-1' }, keySecret: { secretId: 's' } }), /^agent config: key: give one of key, keyFile, keyParameter and keySecret, not several/);
    assert.match(reason({ ...good, keyParameter: { name: '/pgvigil/x' }, keyFile: '/etc/pgvigil/agent.key' }), /^agent config: key: give one of/);
    assert.match(reason({ ...good, keyParameter: { name: 'has space' } }), /^agent config: keyParameter\.name: give the SSM parameter name \(or ARN\) of this node's agent key/);
    assert.match(reason({ ...good, keyParameter: {} }), /^agent config: keyParameter\.name: give the SSM parameter name/);
    assert.match(reason({ ...good, keyParameter: { name: '/x', kms: 'k' } }), /^agent config: keyParameter: Unrecognized key: "kms"/);
    // The key itself is read by the ring (lib/agent/agentKeyRing.ts), never by loadAgentKey.
    assert.ok(parameter.ok);
    const direct = loadAgentKey(parameter.value, {});
    assert.match(direct.ok ? '' : direct.reason, /keyParameter: read it with loadAgentKeyRing/);
  });

  test('the key comes from the environment when the file gives none, and must be long enough', () => {
    const r = parseAgentConfig(good);
    assert.ok(r.ok);
    const fromEnv = loadAgentKey(r.value, { PGVIGIL_AGENT_KEY: 'e'.repeat(64) });
    assert.ok(fromEnv.ok);
    assert.equal(fromEnv.value.length, 64);
    const missing = loadAgentKey(r.value, {});
    assert.equal(missing.ok, false);
    assert.match(missing.ok ? '' : missing.reason, /PGVIGIL_AGENT_KEY/);
    const short = loadAgentKey(r.value, { PGVIGIL_AGENT_KEY: 'short' });
    assert.equal(short.ok, false);
    // The refusal says where the key came from, never the key.
    assert.doesNotMatch(short.ok ? '' : short.reason, /short"|: short/);
  });

  test('a key of two lines is a rotation: the new key and the previous one, both accepted; more lines, or a short one, are refused', () => {
    const r = parseAgentConfig(good);
    assert.ok(r.ok);
    const both = loadAgentKey(r.value, { PGVIGIL_AGENT_KEY: `${'n'.repeat(64)}\n${'o'.repeat(64)}\n` });
    assert.ok(both.ok && Array.isArray(both.value));
    assert.deepEqual((both.value as Buffer[]).map((k) => k.toString()), ['n'.repeat(64), 'o'.repeat(64)]);
    const three = loadAgentKey(r.value, { PGVIGIL_AGENT_KEY: ['a', 'b', 'c'].map((c) => c.repeat(40)).join('\n') });
    assert.match(three.ok ? '' : three.reason, /has 3 lines: give one key, or during a rotation two/);
    const shortSecond = loadAgentKey(r.value, { PGVIGIL_AGENT_KEY: `${'n'.repeat(64)}\nshort` });
    assert.match(shortSecond.ok ? '' : shortSecond.reason, /shorter than 32 bytes/);
  });
});
