import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa } from '../../lib/host/clusterTls.ts';
import { parseLambdaEnv, type LambdaEnv } from '../../lib/control/lambdaEnv.ts';
import { probeLoginFromEnv } from '../../lib/control/probeLoginEnv.ts';
import { agentCaOf } from '../../lib/control/agentKeySource.ts';
import { collectingLog, type LogEntry } from '../../lib/log.ts';
import { ssmWire } from '../support/ssmWire.ts';

/**
 * The probe's login and the CA certificate act, decide and the probe check the nodes by, as the
 * stack gives them now (issue 15): SSM SecureString parameters named by PGVIGIL_MONITOR_PARAMETER
 * and PGVIGIL_CA_CERT_PARAMETER, against SSM cut off at the wire. Until a host has bootstrapped
 * the certificate parameter holds the stack's placeholder: the probe then says so and requires
 * TLS without verifying; act and decide count the CA pending.
 */
const MONITOR = '/pgvigil/PgVigil/host/demo/monitor-password';
const CERT = '/pgvigil/PgVigil/host/demo/cluster-ca-cert';
const PASSWORD = 'Zk3_monitor-password-of-forty-characters';
const PLACEHOLDER = 'x7yQ2a9b_placeholder-no-pem-in-it-at-all';

function env(extra: Record<string, string>): LambdaEnv {
  const e = parseLambdaEnv({ PGVIGIL_TABLE: 'pgvigil', AWS_REGION: 'eu-west-1', PGVIGIL_CLUSTERS: JSON.stringify([{ cluster: 'demo', nodes: [{ name: 'pg-a', host: '10.0.0.1', port: 5432, agent: 'https://10.0.0.1:8008' }] }]), ...extra } as NodeJS.ProcessEnv);
  if (!e.ok) throw new Error(e.reason);
  return e.value;
}

describe('probe login and agent CA from SSM parameters', () => {
  let dir = '';
  let pem = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgvigil-probe-params-'));
    pem = (await readFile((await ensureCa(join(dir, 'ca'), 'demo')).cert, 'utf8')).trim();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const wire = (cert: string) => {
    const s = ssmWire('eu-west-1');
    s.parameters.set(MONITOR, { value: `${PASSWORD}\n`, type: 'SecureString' });
    s.parameters.set(CERT, { value: cert, type: 'SecureString' });
    return s;
  };

  test('with the certificate published: pgvigil_monitor with its parameter, verify-full against that certificate; both read decrypted, in the Lambda region', async () => {
    const s = wire(pem);
    const login = await probeLoginFromEnv(env({ PGVIGIL_MONITOR_PARAMETER: MONITOR, PGVIGIL_CA_CERT_PARAMETER: CERT }), () => {}, { ssm: s.ssm });
    assert.deepEqual(login, { user: 'pgvigil_monitor', password: PASSWORD, ssl: { mode: 'verify-full', ca: pem } });
    assert.deepEqual(s.calls().map((c) => [c.op, c.body['Name'], c.body['WithDecryption']]), [['GetParameter', MONITOR, true], ['GetParameter', CERT, true]]);
    assert.ok(s.wire.every((r) => r.hostname === 'ssm.eu-west-1.amazonaws.com'));
    assert.deepEqual(await agentCaOf(env({ PGVIGIL_CA_CERT_PARAMETER: CERT }), { ssm: s.ssm }), { ca: pem, pending: false });
  });

  test('with the placeholder only: the probe requires TLS and says why, naming the parameter, never the password; act and decide count the CA pending', async () => {
    const s = wire(PLACEHOLDER);
    const lines: LogEntry[] = [];
    const login = await probeLoginFromEnv(env({ PGVIGIL_MONITOR_PARAMETER: MONITOR, PGVIGIL_CA_CERT_PARAMETER: CERT }), collectingLog(lines), { ssm: s.ssm });
    assert.deepEqual(login?.ssl, { mode: 'require' });
    const warn = lines.find((l) => l.level === 'warn');
    assert.ok(warn && /no cluster CA certificate published yet/.test(String(warn.msg)) && warn['parameter'] === CERT, JSON.stringify(lines));
    assert.ok(!JSON.stringify(lines).includes(PASSWORD));
    assert.deepEqual(await agentCaOf(env({ PGVIGIL_CA_CERT_PARAMETER: CERT }), { ssm: s.ssm }), { pending: true });
  });

  test('a missing monitoring parameter, or one the role may not read, fails naming it', async () => {
    const s = ssmWire('eu-west-1');
    await assert.rejects(probeLoginFromEnv(env({ PGVIGIL_MONITOR_PARAMETER: MONITOR }), () => {}, { ssm: s.ssm }), /monitoring password parameter \/pgvigil\/PgVigil\/host\/demo\/monitor-password does not exist/);
    s.failNext('AccessDeniedException', 'not authorized to perform ssm:GetParameter on the CA', 400);
    await assert.rejects(agentCaOf(env({ PGVIGIL_CA_CERT_PARAMETER: CERT }), { ssm: s.ssm }), /cannot read \/pgvigil\/PgVigil\/host\/demo\/cluster-ca-cert: not authorized/);
  });

  test('the parameter variables take full names only, with one message naming the variable', () => {
    const e = parseLambdaEnv({ PGVIGIL_TABLE: 'pgvigil', PGVIGIL_CLUSTERS: '[{"cluster":"demo","nodes":[{"name":"pg-a","host":"10.0.0.1","port":5432,"agent":"http://10.0.0.1:8008"}]}]', PGVIGIL_CA_CERT_PARAMETER: 'arn:aws:secretsmanager:eu-west-1:1:secret:x' });
    assert.deepEqual(e.ok ? null : e.reason.split(':').slice(0, 2), ['Lambda environment', ' PGVIGIL_CA_CERT_PARAMETER']);
    assert.ok(!e.ok && /full name, e\.g\. \/pgvigil\//.test(e.reason));
  });

  test('without any source there is no CA to check by, and nothing is read', async () => {
    const s = ssmWire('eu-west-1');
    assert.deepEqual(await agentCaOf(env({}), { ssm: s.ssm }), { pending: false });
    assert.equal(s.wire.length, 0);
  });
});
