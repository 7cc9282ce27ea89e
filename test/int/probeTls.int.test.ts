import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa, ensureServerCert } from '../../lib/host/clusterTls.ts';
import { hostFiles } from '../../lib/host/hostFiles.ts';
import { pgSslOption } from '../../lib/probe/probeLogin.ts';

/**
 * The probe's name check (verify-full) over a certificate the bootstrap issues (openssl, real
 * files): it passes for the address the certificate names and fails for any other, whether or
 * not the chain is good. The chain itself is checked by node's TLS (and on real servers by the
 * bootstrap and probe int tests, which log in with verify-full).
 */
describe('probe TLS: verify-full names the address the probe dialled', () => {
  let dir = '';
  let ca = '';
  let cert: ReturnType<X509Certificate['toLegacyObject']>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'h5-probe-tls-'));
    const made = await ensureCa(join(dir, 'ca'), 'h5tls');
    const files = hostFiles(join(dir, 'host'));
    await ensureServerCert(files, made, { name: 'h5n1', addresses: ['10.82.0.5', 'pg-a.db.internal'], owner: null });
    ca = await readFile(files.caCert, 'utf8');
    cert = new X509Certificate(await readFile(files.serverCert, 'utf8')).toLegacyObject();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const check = (host: string) => {
    const o = pgSslOption({ mode: 'verify-full', ca }, host);
    assert.ok(o && o.checkServerIdentity && o.rejectUnauthorized && o.ca === ca);
    return o.checkServerIdentity(host === 'pg-a.db.internal' ? host : 'ignored', cert);
  };

  test('the address and the DNS name the certificate names pass', () => {
    assert.equal(check('10.82.0.5'), undefined);
    assert.equal(check('pg-a.db.internal'), undefined);
  });

  test('another address fails, though node-postgres sends no server name for an IP', () => {
    const err = check('10.82.0.6');
    assert.ok(err instanceof Error);
    assert.match(err.message, /10\.82\.0\.6/);
  });

  test('verify-ca checks no name; require checks nothing', () => {
    const o = pgSslOption({ mode: 'verify-ca', ca }, '10.82.0.6');
    assert.ok(o && o.checkServerIdentity);
    assert.equal(o.checkServerIdentity('10.82.0.6', cert), undefined);
    assert.deepEqual(pgSslOption({ mode: 'require' }, '10.82.0.6'), { rejectUnauthorized: false });
    assert.equal(pgSslOption(undefined, '10.82.0.6'), false);
  });
});
