import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgentKeyRing, MIN_RELOAD_MS } from '../../lib/agent/agentKeyRing.ts';
import { parseAgentConfig } from '../../lib/agent/agentConfig.ts';
import type { AgentKeys } from '../../lib/agent/signing.ts';
import { collectingLog, type LogEntry } from '../../lib/log.ts';
import { ssmWire } from '../support/ssmWire.ts';

/**
 * The agent's keys from its keyParameter (the hosts the stack builds), against SSM cut off at the
 * wire: one line, or during a rotation the new key and the previous one, read again when a
 * request's signature matches none held (the agent calls reload), at most once per MIN_RELOAD_MS.
 */
const NAME = '/pgvigil/PgVigil/agent-key/demo/pg1';
const K1 = 'a'.repeat(64);
const K2 = 'b'.repeat(64);

const config = (() => {
  const c = parseAgentConfig({
    cluster: 'demo',
    node: 'pg1',
    listen: { port: 8008 },
    dataDir: '/var/lib/postgresql/15/main',
    bindir: '/usr/lib/postgresql/15/bin',
    pgPort: 5432,
    stateDir: '/var/lib/pgvigil',
    lease: { ttlMs: 3000, renewEveryMs: 1000 },
    keyParameter: { name: NAME, region: 'eu-west-1' },
  });
  if (!c.ok) throw new Error(c.reason);
  return c.value;
})();

const held = (k: AgentKeys) => (Buffer.isBuffer(k) ? [k] : k).map((b) => b.toString());

describe('agent key ring from an SSM parameter', () => {
  test('a rotation without a restart: both keys while the parameter holds two lines, then the new one alone', async () => {
    const s = ssmWire();
    s.parameters.set(NAME, { value: `${K1}\n`, type: 'SecureString' });
    const lines: LogEntry[] = [];
    const ring = await loadAgentKeyRing(config, collectingLog(lines), { ssm: s.ssm, minReloadMs: 0 });
    assert.ok(ring.ok, ring.ok ? '' : ring.reason);
    assert.deepEqual(held(ring.value.keys()), [K1]);
    assert.deepEqual(s.calls()[0], { op: 'GetParameter', body: { Name: NAME, WithDecryption: true } });
    assert.equal(s.wire[0]!.hostname, 'ssm.eu-west-1.amazonaws.com', "the parameter's region");

    assert.equal(await ring.value.reload(), false, 'nothing new');
    // `aws ssm put-parameter --overwrite` with the new key, then the old one.
    s.parameters.set(NAME, { value: `${K2}\n${K1}\n`, type: 'SecureString' });
    assert.equal(await ring.value.reload(), true);
    assert.deepEqual(held(ring.value.keys()), [K2, K1]);
    s.parameters.set(NAME, { value: K2, type: 'SecureString' });
    assert.equal(await ring.value.reload(), true);
    assert.deepEqual(held(ring.value.keys()), [K2]);
    assert.ok(lines.some((l) => l.msg === 'agent key reloaded'));
    for (const k of [K1, K2]) assert.ok(!JSON.stringify(lines).includes(k), 'no key in a log line');
  });

  test('reads again at most once per MIN_RELOAD_MS, so badly signed traffic makes no flood of SSM calls', async () => {
    const s = ssmWire();
    s.parameters.set(NAME, { value: K1, type: 'SecureString' });
    const ring = await loadAgentKeyRing(config, collectingLog([]), { ssm: s.ssm });
    assert.ok(ring.ok);
    assert.ok(MIN_RELOAD_MS >= 1_000);
    s.parameters.set(NAME, { value: `${K2}\n${K1}`, type: 'SecureString' });
    assert.equal(await ring.value.reload(), true, 'the first mismatch reads at once');
    assert.equal(await ring.value.reload(), false, 'the next within MIN_RELOAD_MS does not');
    assert.equal(s.calls().length, 2);
  });

  test('a failed read again keeps the keys held, and says why without a key', async () => {
    const s = ssmWire();
    s.parameters.set(NAME, { value: K1, type: 'SecureString' });
    const lines: LogEntry[] = [];
    const ring = await loadAgentKeyRing(config, collectingLog(lines), { ssm: s.ssm, minReloadMs: 0 });
    assert.ok(ring.ok);
    s.failNext('ThrottlingException', 'Rate exceeded');
    assert.equal(await ring.value.reload(), false);
    assert.deepEqual(held(ring.value.keys()), [K1]);
    const warn = lines.find((l) => l.level === 'warn');
    assert.match(String(warn?.reason), /keyParameter: SSM Parameter Store: cannot read \/pgvigil\/PgVigil\/agent-key\/demo\/pg1: Rate exceeded/);
    assert.ok(!JSON.stringify(lines).includes(K1));
  });

  test('no agent without its key: a missing parameter, or a bad value, stops the start naming the parameter, never the value', async () => {
    const missing = await loadAgentKeyRing(config, collectingLog([]), { ssm: ssmWire().ssm });
    assert.equal(missing.ok, false);
    assert.match(missing.ok ? '' : missing.reason, /^agent config: keyParameter: \/pgvigil\/PgVigil\/agent-key\/demo\/pg1 does not exist: check the stack created this node's agent key, and the region/);
    const s = ssmWire();
    s.parameters.set(NAME, { value: 'short-key', type: 'SecureString' });
    const short = await loadAgentKeyRing(config, collectingLog([]), { ssm: s.ssm });
    assert.match(short.ok ? '' : short.reason, /the key from keyParameter \/pgvigil\/PgVigil\/agent-key\/demo\/pg1 is shorter than 32 bytes/);
    assert.doesNotMatch(short.ok ? '' : short.reason, /short-key/);
    s.parameters.set(NAME, { value: [K1, K2, K1].join('\n'), type: 'SecureString' });
    const three = await loadAgentKeyRing(config, collectingLog([]), { ssm: s.ssm });
    assert.match(three.ok ? '' : three.reason, /has 3 lines: give one key, or during a rotation two/);
  });
});
