import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { hbaText, identText } from '../../lib/host/hbaConf.ts';
import { MONITOR_USER, roleStatements, scramVerifier, verifierMatches } from '../../lib/host/roles.ts';
import { REPLICATION_USER } from '../../lib/postgres/standbyConf.ts';
import { hostNodeSettings, serverConfText } from '../../lib/host/serverConf.ts';
import { hostFiles } from '../../lib/host/hostFiles.ts';

const lines = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#'));

describe('pg_hba for a host', () => {
  test('given a host, when its pg_hba is written, then nothing is trusted and every network login is TLS with scram-sha-256', () => {
    const hba = lines(hbaText({ clientCidrs: ['10.0.0.0/16'], superuser: 'socket-peer' }));
    assert.ok(!hba.some((l) => /\btrust\b/.test(l)), hba.join('\n'));
    assert.deepEqual(hba.filter((l) => l.startsWith('host ')), ['host all postgres all reject']);
    assert.ok(hba.filter((l) => l.startsWith('hostssl')).every((l) => l.endsWith('scram-sha-256') && l.includes('10.0.0.0/16')));
    assert.ok(hba.includes(`hostssl replication ${REPLICATION_USER} 10.0.0.0/16 scram-sha-256`));
    assert.ok(hba.includes(`hostssl all ${MONITOR_USER} 10.0.0.0/16 scram-sha-256`));
    assert.equal(hba[0], 'local all postgres peer map=pgvigil');
  });

  test('given the superuser is refused over the network, when a later line would match it, then the reject comes first', () => {
    const hba = lines(hbaText({ clientCidrs: ['10.0.0.0/16'], superuser: 'socket-peer' }));
    assert.ok(hba.indexOf('host all postgres all reject') < hba.findIndex((l) => l.startsWith('hostssl all all')));
  });

  test('given local mode, then its one trust line is the superuser on loopback', () => {
    const hba = lines(hbaText({ clientCidrs: ['127.0.0.1/32'], superuser: 'loopback-trust' }));
    assert.deepEqual(hba.filter((l) => /\btrust\b/.test(l)), ['host all postgres 127.0.0.1/32 trust']);
  });

  test('given the OS user postgres, then root and postgres may be the superuser over the socket', () => {
    assert.deepEqual(lines(identText('postgres')), ['pgvigil postgres postgres', 'pgvigil root postgres']);
  });
});

describe('roles', () => {
  const passwords = { monitor: 'm'.repeat(43), replication: 'r'.repeat(43) };

  test('given no roles, when the statements are made, then both are created with a password', () => {
    const st = roleStatements(new Map(), passwords);
    assert.equal(st.filter((s) => s.startsWith('CREATE ROLE')).length, 2);
    assert.equal(st.filter((s) => /^ALTER ROLE .* PASSWORD 'SCRAM-SHA-256\$4096:/.test(s)).length, 2);
    assert.ok(!st.some((s) => s.includes(passwords.monitor) || s.includes(passwords.replication)), 'no password in the SQL');
  });

  test('given roles whose verifiers match, when the statements are made, then there are none (a re-run changes nothing)', () => {
    const current = new Map([[REPLICATION_USER, scramVerifier(passwords.replication)], [MONITOR_USER, scramVerifier(passwords.monitor)]]);
    assert.deepEqual(roleStatements(current, passwords), []);
  });

  test('given a rotated password, when the statements are made, then only that role is altered', () => {
    const current = new Map([[REPLICATION_USER, scramVerifier('old')], [MONITOR_USER, scramVerifier(passwords.monitor)]]);
    const st = roleStatements(current, passwords);
    assert.equal(st.length, 1);
    assert.match(st[0]!, new RegExp(`^ALTER ROLE ${REPLICATION_USER} `));
  });

  test('a verifier matches its password only', () => {
    const v = scramVerifier('secret');
    assert.equal(verifierMatches(v, 'secret'), true);
    assert.equal(verifierMatches(v, 'Secret'), false);
    assert.equal(verifierMatches('md5abc', 'secret'), false);
    assert.equal(verifierMatches(null, 'secret'), false);
  });

  // RFC 7677's test vector: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
  test('the verifier is SCRAM-SHA-256 as PostgreSQL stores it (RFC 7677 vector)', () => {
    const v = scramVerifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
    assert.equal(v, 'SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=');
  });
});

describe('server settings', () => {
  test('given a bootstrapped host, then the cluster file names no path of the host and the node file names them all', () => {
    const files = hostFiles('/var/lib/pgvigil/host');
    const cluster = serverConfText({ listenAddresses: '*', unixSocketDirectories: 'node', tls: 'node', walReceiverTimeoutMs: 5_000, synchronousStandbyNames: '', sizing: 'host' });
    assert.ok(!cluster.includes('/var/lib/pgvigil/host'));
    assert.match(cluster, /^ssl = on$/m);
    assert.match(cluster, /^wal_receiver_timeout = '5000ms'$/m);
    assert.deepEqual(Object.keys(hostNodeSettings(files)).sort(), ['ssl_ca_file', 'ssl_cert_file', 'ssl_key_file', 'unix_socket_directories']);
  });
});
