import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa } from '../../lib/host/clusterTls.ts';
import { parseLambdaEnv } from '../../lib/control/lambdaEnv.ts';
import { probeLoginFromEnv } from '../../lib/control/probeLoginEnv.ts';

/**
 * The probe function's login from its environment, off AWS (files): verify-full with the CA
 * certificate file, require without one, a clear refusal of a file that holds no certificate.
 * The SSM path the stack uses (PGVIGIL_MONITOR_PARAMETER, PGVIGIL_CA_CERT_PARAMETER) is
 * test/unit/probeLoginParameters.unit.test.ts; the Secrets Manager one (functions deployed
 * before, PGVIGIL_CA_CERT_SECRET_ARN) needs AWS and is not run here.
 */
describe('probe login from the Lambda environment (files)', () => {
  let dir = '';
  let pem = '';
  const env = (extra: Record<string, string>) => {
    const e = parseLambdaEnv({ PGVIGIL_TABLE: 'pgvigil', PGVIGIL_CLUSTERS: JSON.stringify([{ cluster: 'h5', nodes: [{ name: 'n1', host: '10.82.0.1', port: 5432, agent: 'http://10.82.0.1:8008' }] }]), PGVIGIL_MONITOR_PASSWORD_FILE: join(dir, 'monitor.password'), ...extra });
    assert.ok(e.ok, !e.ok ? e.reason : '');
    return e.value;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'h5-probe-env-'));
    await writeFile(join(dir, 'monitor.password'), 'secret-for-test\n', { mode: 0o600 });
    const ca = await ensureCa(join(dir, 'ca'), 'h5');
    pem = (await readFile(ca.cert, 'utf8')).trim();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('with the CA certificate file: pgvigil_monitor, verify-full against that certificate', async () => {
    const login = await probeLoginFromEnv(env({ PGVIGIL_CA_CERT_FILE: join(dir, 'ca', 'ca', 'ca.crt') }));
    assert.deepEqual(login, { user: 'pgvigil_monitor', password: 'secret-for-test', ssl: { mode: 'verify-full', ca: pem } });
  });

  test('without one: encrypted only (require)', async () => {
    const login = await probeLoginFromEnv(env({}));
    assert.deepEqual(login?.ssl, { mode: 'require' });
  });

  test('a file with no certificate in it is refused, naming the file', async () => {
    await writeFile(join(dir, 'not-a-cert'), 'hello\n');
    await assert.rejects(probeLoginFromEnv(env({ PGVIGIL_CA_CERT_FILE: join(dir, 'not-a-cert') })), /not-a-cert holds no PEM certificate/);
  });
});
