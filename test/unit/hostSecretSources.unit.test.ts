import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootstrapConfig } from '../../lib/host/bootstrapConfig.ts';
import { parseWith } from '../../lib/domain/parse.ts';
import { resolveCa } from '../../lib/host/caSource.ts';
import { resolvePassword } from '../../lib/host/hostSecrets.ts';
import { newHostValue } from '../../lib/control/agentKeyParameterEvent.ts';
import { ssmWire } from '../support/ssmWire.ts';

/**
 * Where the host bootstrap finds its passwords and the cluster CA on AWS (issue 15): the SSM
 * SecureString parameters the stack made (cdk/hostSecrets.ts), against SSM cut off at the wire,
 * with a real CA from openssl. The first host puts the CA over the stack's placeholder, any host
 * the certificate alone; the others wait for the CA; a first host holding a CA the parameter lacks
 * (the move from the old secret) puts it back. And the bootstrap config names the field of a
 * source that is wrong, keeping the file and Secrets Manager sources of hosts set up before.
 */
const PREFIX = '/pgvigil/PgVigil/host/demo/';
const CA = `${PREFIX}cluster-ca`;
const CERT = `${PREFIX}cluster-ca-cert`;
const caSource = { parameter: CA, certParameter: CERT, region: 'eu-west-1' };

/** The stack's four parameters as its custom resource leaves them: generated passwords, placeholders for the CA and its certificate. */
function stackParameters() {
  const s = ssmWire('eu-west-1');
  for (const name of ['monitor-password', 'replication-password', 'cluster-ca', 'cluster-ca-cert']) s.parameters.set(PREFIX + name, { value: newHostValue(), type: 'SecureString', tier: 'Standard' });
  return s;
}

describe('host secret sources: SSM Parameter Store', () => {
  let dir = '';
  let n = 0;
  const hostDir = () => join(dir, `host-${++n}`);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgvigil-host-sources-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a password is its parameter, decrypted and trimmed; a missing one fails naming it, never a value', async () => {
    const s = stackParameters();
    const value = s.parameters.get(`${PREFIX}monitor-password`)!.value;
    assert.match(value, /^[A-Za-z0-9_-]{40}$/, '40 URL-safe characters, as the custom resource makes them');
    assert.equal(await resolvePassword({ parameter: `${PREFIX}monitor-password`, region: 'eu-west-1' }, null, { ssm: s.ssm }), value);
    const get = s.calls()[0]!;
    assert.deepEqual([get.op, get.body['Name'], get.body['WithDecryption']], ['GetParameter', `${PREFIX}monitor-password`, true]);
    assert.equal(s.wire[0]!.hostname, 'ssm.eu-west-1.amazonaws.com');
    await assert.rejects(resolvePassword({ parameter: `${PREFIX}nope` }, null, { ssm: s.ssm }), /SSM parameter \/pgvigil\/PgVigil\/host\/demo\/nope holds no password: check the stack created it/);
    s.failNext('AccessDeniedException', 'not authorized to perform ssm:GetParameter', 400);
    await assert.rejects(resolvePassword({ parameter: `${PREFIX}monitor-password` }, null, { ssm: s.ssm }), (e: Error) => /cannot read .*monitor-password: not authorized/.test(e.message) && !e.message.includes(value));
  });

  test('the first host finds the placeholder, makes the CA and puts it (SecureString, standard, overwrite), then the certificate alone; a CA fits a standard parameter with room to spare', async () => {
    const s = stackParameters();
    const ca = await resolveCa({ ca: caSource, cluster: 'demo', hostDir: hostDir(), first: true, waitMs: 0, ssm: s.ssm });
    const puts = s.calls().filter((c) => c.op === 'PutParameter');
    assert.deepEqual(puts.map((p) => [p.body['Name'], p.body['Type'], p.body['Tier'], p.body['Overwrite']]), [
      [CA, 'SecureString', 'Standard', true],
      [CERT, 'SecureString', 'Standard', true],
    ]);
    const held = JSON.parse(s.parameters.get(CA)!.value) as { cert: string; key: string };
    assert.equal(held.cert, await readFile(ca.cert, 'utf8'));
    assert.equal(held.key, await readFile(ca.key, 'utf8'));
    assert.match(held.key, /BEGIN PRIVATE KEY/);
    const bytes = Buffer.byteLength(s.parameters.get(CA)!.value);
    assert.ok(bytes < 4096, `the CA parameter holds ${bytes} bytes: a standard parameter takes 4 KB`);
    console.log(`cluster CA parameter: ${bytes} bytes (P-256 key and certificate, PEM, as JSON); certificate parameter: ${Buffer.byteLength(s.parameters.get(CERT)!.value)} bytes`);
    assert.equal(s.parameters.get(CERT)!.value, held.cert.trim(), 'the certificate alone, never the key');
    assert.doesNotMatch(s.parameters.get(CERT)!.value, /PRIVATE KEY/);
  });

  test("with ca.keyId the first host puts the CA and its certificate under that KMS key (KeyId sent on both puts)", async () => {
    const s = stackParameters();
    const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    await resolveCa({ ca: { ...caSource, keyId: KEY }, cluster: 'demo', hostDir: hostDir(), first: true, waitMs: 0, ssm: s.ssm });
    const puts = s.calls().filter((c) => c.op === 'PutParameter');
    assert.deepEqual(puts.map((p) => [p.body['Name'], p.body['KeyId'], p.body['Overwrite']]), [
      [CA, KEY, true],
      [CERT, KEY, true],
    ]);
    const without = stackParameters();
    await resolveCa({ ca: caSource, cluster: 'demo', hostDir: hostDir(), first: true, waitMs: 0, ssm: without.ssm });
    assert.ok(without.calls().filter((c) => c.op === 'PutParameter').every((p) => p.body['KeyId'] === undefined), 'no keyId: aws/ssm, as before');
  });

  test('another host takes the CA from the parameter (key 0600) and puts nothing when the certificate is there already', async () => {
    const s = stackParameters();
    await resolveCa({ ca: caSource, cluster: 'demo', hostDir: hostDir(), first: true, waitMs: 0, ssm: s.ssm });
    const before = s.calls().length;
    const ca = await resolveCa({ ca: caSource, cluster: 'demo', hostDir: hostDir(), first: false, waitMs: 0, ssm: s.ssm });
    const after = s.calls().slice(before);
    assert.deepEqual(after.map((c) => c.op), ['GetParameter', 'GetParameter'], 'the CA, then the certificate, both read; nothing put');
    assert.equal(await readFile(ca.key, 'utf8'), (JSON.parse(s.parameters.get(CA)!.value) as { key: string }).key);
    assert.equal((await stat(ca.key)).mode & 0o777, 0o600);
  });

  test('a host that is not the first, with no CA in the parameter yet, waits for it and then fails naming the parameter and whom to bootstrap', async () => {
    const s = stackParameters();
    const h = hostDir();
    await assert.rejects(resolveCa({ ca: caSource, cluster: 'demo', hostDir: h, first: false, waitMs: 0, ssm: s.ssm }), /SSM parameter \/pgvigil\/PgVigil\/host\/demo\/cluster-ca holds no cluster CA yet: bootstrap the first node \(demo's first peer\) first/);
    assert.equal(s.calls().filter((c) => c.op === 'PutParameter').length, 0, 'it never makes or puts a CA of its own');
    assert.ok(!existsSync(join(h, 'cluster-ca', 'ca', 'ca.key')));
  });

  test('a waiting host takes the CA once the first host has put it', async () => {
    const s = stackParameters();
    const waiting = resolveCa({ ca: caSource, cluster: 'demo', hostDir: hostDir(), first: false, waitMs: 60_000, ssm: s.ssm, pollMs: 20 });
    // The waiter has read the placeholder at least once before the first host comes.
    while (!s.calls().some((c) => c.op === 'GetParameter')) await new Promise((r) => setTimeout(r, 5));
    const first = await resolveCa({ ca: caSource, cluster: 'demo', hostDir: hostDir(), first: true, waitMs: 0, ssm: s.ssm });
    const joined = await waiting;
    assert.equal(await readFile(joined.cert, 'utf8'), await readFile(first.cert, 'utf8'));
  });

  test('a first host that holds the CA while the parameter holds only the placeholder (moved from the old secret) puts the one it holds, and no new one', async () => {
    const old = stackParameters();
    const h = hostDir();
    const held = await resolveCa({ ca: caSource, cluster: 'demo', hostDir: h, first: true, waitMs: 0, ssm: old.ssm });
    const moved = stackParameters();
    const ca = await resolveCa({ ca: caSource, cluster: 'demo', hostDir: h, first: true, waitMs: 0, ssm: moved.ssm });
    assert.equal(ca.cert, held.cert);
    assert.deepEqual(JSON.parse(moved.parameters.get(CA)!.value), { cert: await readFile(held.cert, 'utf8'), key: await readFile(held.key, 'utf8') });
    assert.equal(moved.parameters.get(CERT)!.value, (await readFile(held.cert, 'utf8')).trim());
    // The next boot finds both in place and puts nothing.
    const n0 = moved.calls().length;
    await resolveCa({ ca: caSource, cluster: 'demo', hostDir: h, first: true, waitMs: 0, ssm: moved.ssm });
    assert.deepEqual(moved.calls().slice(n0).map((c) => c.op), ['GetParameter', 'GetParameter']);
  });
});

describe('bootstrap config: the secret sources', () => {
  const base = {
    address: '10.0.1.10',
    peers: [{ name: 'pg-a', host: '10.0.1.10', port: 5432 }],
    hostDir: '/var/lib/pgvigil/host',
    clientCidrs: ['10.0.0.0/16'],
  };
  const parse = (ca: unknown, passwords: unknown) => parseWith(BootstrapConfig, { ...base, ca, passwords }, 'agent config: bootstrap');
  const pw = { monitor: { parameter: `${PREFIX}monitor-password`, region: 'eu-west-1' }, replication: { parameter: `${PREFIX}replication-password` } };

  test('SSM parameters (the stack now), Secrets Manager secrets (hosts set up before) and files (labs) are all taken', () => {
    const ssm = parse(caSource, pw);
    assert.ok(ssm.ok, !ssm.ok ? ssm.reason : '');
    assert.deepEqual(ssm.value.ca, caSource);
    assert.deepEqual(ssm.value.passwords, pw);
    const keyed = parse({ ...caSource, keyId: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab' }, pw);
    assert.ok(keyed.ok, !keyed.ok ? keyed.reason : '');
    assert.deepEqual(keyed.value.ca, { ...caSource, keyId: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab' });
    const sm = parse({ secretId: 'arn:ca', certSecretId: 'arn:cert', region: 'eu-west-1' }, { monitor: { secretId: 'arn:m' }, replication: { secretId: 'arn:r', region: 'eu-west-1' } });
    assert.ok(sm.ok, !sm.ok ? sm.reason : '');
    assert.deepEqual(sm.value.ca, { secretId: 'arn:ca', certSecretId: 'arn:cert', region: 'eu-west-1' });
    assert.deepEqual(sm.value.passwords.replication, { secretId: 'arn:r', region: 'eu-west-1' });
    const files = parse({ dir: '/srv/ca' }, { monitor: { file: '/srv/m' }, replication: { file: '/srv/r' } });
    assert.ok(files.ok, !files.ok ? files.reason : '');
    assert.deepEqual([files.value.ca, files.value.passwords.monitor], [{ dir: '/srv/ca' }, { file: '/srv/m' }]);
  });

  test('a wrong source is refused in one message naming the field and what to give', () => {
    const reason = (ca: unknown, passwords: unknown) => {
      const r = parse(ca, passwords);
      assert.ok(!r.ok, 'refused');
      return r.reason;
    };
    assert.equal(reason(caSource, { ...pw, monitor: { parameter: `${PREFIX}m`, secretId: 'arn:m' } }), 'agent config: bootstrap: passwords.monitor: give one of file, parameter (SSM) or secretId (Secrets Manager), not parameter and secretId');
    assert.equal(reason(caSource, { ...pw, replication: {} }), 'agent config: bootstrap: passwords.replication: give one of file, parameter (SSM) or secretId (Secrets Manager)');
    assert.match(reason(caSource, { ...pw, monitor: { parameter: 'monitor-password' } }), /^agent config: bootstrap: passwords\.monitor\.parameter: give the parameter as the SSM parameter's full name, e\.g\. \/pgvigil\//);
    assert.equal(reason({ parameter: CA, certSecretId: 'arn:cert' }, pw), 'agent config: bootstrap: ca.certSecretId: certSecretId goes with secretId (use certParameter with parameter)');
    assert.equal(reason({ secretId: 'arn:ca', certParameter: CERT }, pw), 'agent config: bootstrap: ca.certParameter: certParameter goes with parameter (use certSecretId with secretId)');
    assert.equal(reason({ dir: '/srv/ca', parameter: CA }, pw), 'agent config: bootstrap: ca: give one of dir, parameter (SSM) or secretId (Secrets Manager), not dir and parameter');
    assert.match(reason({ parameter: CA, certParameter: CERT, kmsKey: 'x' }, pw), /^agent config: bootstrap: ca: /);
    assert.equal(reason({ secretId: 'arn:ca', keyId: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab' }, pw), 'agent config: bootstrap: ca.keyId: keyId goes with parameter (the SSM parameters are put under it)');
    assert.match(reason({ ...caSource, keyId: 'alias/aws/ssm' }, pw), /^agent config: bootstrap: ca\.keyId: give the KMS key ARN/);
  });
});
