import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import pg from 'pg';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { probeLoginFromFiles } from '../../lib/host/probeLoginFiles.ts';
import { probeNode } from '../../lib/probe/probeNode.ts';
import type { ProbeLogin } from '../../lib/probe/probeLogin.ts';
import { MONITOR_USER } from '../../lib/host/roles.ts';
import { REPLICATION_USER } from '../../lib/postgres/standbyConf.ts';

// Local mode sets nodes up as the host bootstrap does (lib/host): what a user would check on a node.
describe('node security: roles, pg_hba and TLS (local mode, 3 nodes)', () => {
  let workDir: string;
  let cluster: LocalCluster | undefined;
  const port = 24010;

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-hostsec-');
    cluster = await createLocalCluster({ workDir, basePort: port, replication: { mode: 'synchronous', quorum: 1 } });
  });
  after(async () => {
    await cluster?.stopAll();
    await rm(workDir, { recursive: true, force: true });
  });

  const connect = async (o: { user: string; password?: string; ssl: pg.ClientConfig['ssl']; database?: string }) => {
    const c = new pg.Client({ host: '127.0.0.1', port, database: o.database ?? 'postgres', user: o.user, password: o.password, ssl: o.ssl, connectionTimeoutMillis: 5_000 });
    c.on('error', () => {});
    try {
      await c.connect();
      const r = await c.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      return { ok: true as const, ssl: r.rows[0]?.ssl };
    } catch (e) {
      return { ok: false as const, message: (e as Error).message };
    } finally {
      await c.end().catch(() => {});
    }
  };

  test('every standby replicates over TLS, logged in as the replication role', async () => {
    const rows = await sqlOnce<{ application_name: string; usename: string; ssl: boolean }>(
      port,
      'SELECT r.application_name, r.usename, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) ORDER BY 1',
    );
    assert.deepEqual(rows, [
      { application_name: 'pg2', usename: REPLICATION_USER, ssl: true },
      { application_name: 'pg3', usename: REPLICATION_USER, ssl: true },
    ]);
  });

  test('the probe logs in as pgvigil_monitor over TLS checked against the cluster CA and the address (verify-full), and observes the node', async () => {
    const login = await probeLoginFromFiles(cluster!.files);
    assert.equal(login.user, MONITOR_USER);
    assert.equal(login.ssl?.mode, 'verify-full');
    const obs = await probeNode({ name: 'pg1', host: '127.0.0.1', port, agent: 'http://127.0.0.1:1', tags: { nosync: false, noloadbalance: false, nofailover: false, priority: 100 } } as never, {
      cluster: 'local', prober: 'test', now: Date.now, previous: new Map(), timeoutMs: 5_000, ...login,
    });
    assert.equal(obs.reachable, true, JSON.stringify(obs));
    assert.equal(obs.reachable && obs.role, 'primary');
    const direct = await connect({ user: login.user, password: login.password!, ssl: { ca: (login.ssl as { ca: string }).ca, checkServerIdentity: () => undefined } });
    assert.deepEqual(direct, { ok: true, ssl: true });
  });

  test('pgvigil_monitor holds pg_monitor and nothing more', async () => {
    const [role] = await sqlOnce<{ rolsuper: boolean; rolreplication: boolean; rolcreaterole: boolean; rolcreatedb: boolean; member_of: string[] }>(
      port,
      `SELECT rolsuper, rolreplication, rolcreaterole, rolcreatedb,
              ARRAY(SELECT b.rolname::text FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = r.oid) AS member_of
       FROM pg_roles r WHERE rolname = $1`,
      [MONITOR_USER],
    );
    assert.deepEqual(role, { rolsuper: false, rolreplication: false, rolcreaterole: false, rolcreatedb: false, member_of: ['pg_monitor'] });
  });

  test('the server refuses the monitoring role without TLS, with a wrong password, and trusts no network login', async () => {
    const login: ProbeLogin = await probeLoginFromFiles(cluster!.files);
    const plain = await connect({ user: MONITOR_USER, password: login.password!, ssl: false });
    assert.equal(plain.ok, false);
    assert.match(plain.ok ? '' : plain.message, /no pg_hba.conf entry/);
    const wrong = await connect({ user: MONITOR_USER, password: 'not-the-password', ssl: { rejectUnauthorized: false } });
    assert.equal(wrong.ok, false);
    assert.match(wrong.ok ? '' : wrong.message, /password authentication failed/);
    const repl = await connect({ user: REPLICATION_USER, password: 'not-the-password', ssl: { rejectUnauthorized: false } });
    assert.equal(repl.ok, false);
    const hba = await sqlOnce<{ type: string; user_name: string[]; address: string | null; auth_method: string }>(port, 'SELECT type, user_name, address, auth_method FROM pg_hba_file_rules');
    const trusted = hba.filter((r) => r.auth_method === 'trust');
    // The one trust line is local mode's superuser on loopback (no unix socket there); every other login is scram over TLS.
    assert.deepEqual(trusted.map((r) => [r.type, r.user_name, r.address]), [['host', ['postgres'], '127.0.0.1']]);
    assert.ok(hba.filter((r) => r.auth_method === 'scram-sha-256').every((r) => r.type === 'hostssl'));
  });

  test('the passwords and keys are readable by their owner only', async () => {
    const f = cluster!.files;
    for (const path of [f.monitorPasswordFile, f.replicationPasswordFile, f.passfile, f.serverKey]) {
      assert.equal((await stat(path)).mode & 0o777, 0o600, path);
    }
  });
});
