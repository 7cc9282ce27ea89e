import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { callAgent } from '../../lib/agent/agentClient.ts';
import { parseAgentConfig } from '../../lib/agent/agentConfig.ts';
import { loadAgentKeyRing } from '../../lib/agent/agentKeyRing.ts';
import { startAgent, type RunningAgent } from '../../lib/agent/startAgent.ts';
import { KEY_CACHE_MS, agentKeySource } from '../../lib/control/agentKeySource.ts';
import type { LambdaEnv } from '../../lib/control/lambdaEnv.ts';
import type { SignedTarget } from '../../lib/agent/signing.ts';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { localHostFiles } from '../../lib/local/localHostFiles.ts';
import { collectingLog, type LogEntry } from '../../lib/log.ts';
import { ssmWire, type SsmWire } from '../support/ssmWire.ts';

// This file's ports (24100-24199: below Linux's ephemeral range).
const PG_PORT = 24110;
const AGENT_PORT = 24120;
const PREFIX = '/pgvigil/PgVigil/agent-key/';
const NAME = `${PREFIX}kp/k1`;
const K1 = 'a'.repeat(64);
const K2 = 'b'.repeat(64);

/**
 * A rotation of a node's agent key parameter as the hosts the stack builds live it: the real
 * agent (HTTPS, one real PostgreSQL node) holding its key from `keyParameter`, and the signer act
 * and decide use (agentKeySource), both reading the same parameter from SSM cut off at the wire.
 * The two puts of README "Rotating the agent keys": the new key then the old, later the new alone.
 */
describe('agent key parameter: a rotation with no restart and no refusal (real agent, SSM at the wire)', () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;
  let agent: RunningAgent | undefined;
  const lines: LogEntry[] = [];
  const hostSsm: SsmWire = ssmWire();
  let now = 1_000_000;
  let signer: (t: SignedTarget) => Promise<Buffer>;
  let ca: string | undefined;

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-c-keyparam-');
    cluster = await createLocalCluster({ workDir, basePort: PG_PORT, names: ['k1'], replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    hostSsm.parameters.set(NAME, { value: `${K1}\n`, type: 'SecureString' });
    const host = localHostFiles(workDir);
    const tls = existsSync(host.serverCert) ? { certFile: host.serverCert, keyFile: host.serverKey } : undefined;
    ca = tls ? readFileSync(host.caCert, 'utf8') : undefined;
    const node = cluster.nodes[0]!;
    const config = parseAgentConfig({
      ...(tls ? { tls } : {}),
      cluster: 'kp',
      node: 'k1',
      listen: { host: '127.0.0.1', port: AGENT_PORT },
      dataDir: node.dataDir,
      bindir: cluster.bindir,
      pgPort: node.port,
      stateDir: join(workDir, 'agent-k1'),
      lease: { ttlMs: 3_000, renewEveryMs: 500 },
      keyParameter: { name: NAME, region: 'eu-west-1' },
    });
    if (!config.ok) throw new Error(config.reason);
    // Read again at every mismatch here (the agent's own floor, 10 s, is agentKeyRing.unit's).
    const ring = await loadAgentKeyRing(config.value, collectingLog(lines), { ssm: hostSsm.ssm, minReloadMs: 0 });
    if (!ring.ok) throw new Error(ring.reason);
    agent = await startAgent(config.value, { key: ring.value, osUser: cluster.osUser, log: collectingLog(lines) });
    // act's and decide's side: the same parameter (the wire stands for SSM, one store for both).
    const env = { PGVIGIL_TABLE: 'pgvigil', AWS_REGION: 'eu-west-1', PGVIGIL_CLUSTERS: [], PGVIGIL_AGENT_KEY_PARAMETER_PREFIX: PREFIX } as unknown as LambdaEnv;
    const source = agentKeySource(env, () => now, { ssm: hostSsm.ssm });
    if (typeof source !== 'function') throw new Error('on AWS the signing key is a source by target');
    signer = source;
  });
  after(async () => {
    await agent?.close();
    await cluster?.stopAll();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const target = () => ({ ...agent!.target, ...(ca !== undefined ? { ca } : {}) });
  const status = (key: Parameters<typeof callAgent>[1]) => callAgent(target(), key, 'status', {});

  test('the agent takes the key of its parameter: signed with it, accepted; with any other, refused', async () => {
    const signed = await status(signer);
    assert.equal(signed.ok, true, signed.reason);
    const other = await status(Buffer.from(K2));
    assert.equal(other.httpStatus, 401);
    assert.match(other.reason, /^bad signature/);
    const reads = hostSsm.calls().filter((c) => c.op === 'GetParameter');
    assert.ok(reads.every((c) => c.body['Name'] === NAME && c.body['WithDecryption'] === true));
  });

  test('put the new key first and the old second: the new is accepted at once, the signers still on the old are too, and they move within KEY_CACHE_MS', async () => {
    hostSsm.parameters.set(NAME, { value: `${K2}\n${K1}`, type: 'SecureString' });
    const signedNew = await status(Buffer.from(K2));
    assert.equal(signedNew.ok, true, `the new key, before any restart: ${signedNew.reason}`);
    assert.ok(lines.some((l) => l.msg === 'agent key reloaded'), 'the agent read its parameter again');
    const cached = await status(signer);
    assert.equal(cached.ok, true, `a container that still signs with the old key: ${cached.reason}`);
    assert.equal((await signer({ cluster: 'kp', node: 'k1' })).toString(), K1, 'the signer keeps its key within the cache time');
    now += KEY_CACHE_MS;
    assert.equal((await signer({ cluster: 'kp', node: 'k1' })).toString(), K2);
    const moved = await status(signer);
    assert.equal(moved.ok, true, moved.reason);
  });

  test('then the new key alone: once the agent reads it again, the old key is refused, the new one still accepted', async () => {
    hostSsm.parameters.set(NAME, { value: K2, type: 'SecureString' });
    // A key the agent does not hold makes it read its parameter again.
    assert.equal((await status(Buffer.from('n'.repeat(64)))).httpStatus, 401);
    const old = await status(Buffer.from(K1));
    assert.equal(old.httpStatus, 401, 'the old key, dropped at that read');
    const current = await status(signer);
    assert.equal(current.ok, true, current.reason);
  });

  test('no key reaches the agent\'s log lines', () => {
    const all = JSON.stringify(lines);
    for (const k of [K1, K2]) assert.ok(!all.includes(k));
  });
});
