import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { probeLoginFromFiles } from '../../lib/host/probeLoginFiles.ts';
import { peerRole } from '../../lib/host/peerRole.ts';
import { REPLICATION_USER } from '../../lib/postgres/standbyConf.ts';
import { localBootstrapHosts, runBootstrap, type BootstrapHost } from '../support/bootstrapHosts.ts';
import { waitFor } from '../support/waitFor.ts';

// Three hosts on 127.0.0.1 (own ports, own host and data directories), each made only by
// `pgvigil-agent bootstrap`; the namespace lab (ec2lab.netns.e2e) does the same on addresses of their own.
describe('pgvigil-agent bootstrap: a cluster from nothing, and a re-run changes nothing', () => {
  const f = localBootstrapHosts({ tmpPrefix: '/tmp/pgvigil-boot-', cluster: 'boot', names: ['b1', 'b2', 'b3'], port: 24100, agentPort: 24200 });

  const superuser = (h: BootstrapHost, text: string) => sqlOnce(h.port, text, [], { host: h.files.socketDir });

  test('the first host initialises the primary; the others copy it and stream over TLS', async () => {
    const [h1, h2, h3] = f.hosts as [BootstrapHost, BootstrapHost, BootstrapHost];
    assert.deepEqual(await runBootstrap(h1), { ok: true, did: 'initialised the primary', changed: ['data directory'] });
    const joined = await Promise.all([runBootstrap(h2), runBootstrap(h3)]);
    assert.deepEqual(joined, [
      { ok: true, did: 'joined as a standby', from: 'b1', changed: ['data directory'] },
      { ok: true, did: 'joined as a standby', from: 'b1', changed: ['data directory'] },
    ]);
    const rows = await waitFor('both standbys stream from b1', async () => {
      const r = await superuser(h1, "SELECT r.application_name AS name, r.usename, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE r.state = 'streaming' ORDER BY 1");
      return r.length === 2 ? r : undefined;
    });
    assert.deepEqual(rows, [
      { name: 'b2', usename: REPLICATION_USER, ssl: true },
      { name: 'b3', usename: REPLICATION_USER, ssl: true },
    ]);
    const slots = await superuser(h1, 'SELECT slot_name FROM pg_replication_slots ORDER BY 1');
    assert.deepEqual(slots, [{ slot_name: 'b2' }, { slot_name: 'b3' }]);
  });

  test('the monitoring role logs in to every node over TLS checked against the cluster CA', async () => {
    for (const h of f.hosts) {
      const login = await probeLoginFromFiles({ caCert: h.files.caCert, monitorPasswordFile: `${f.workDir}/secrets/monitor.password` });
      assert.equal(await peerRole({ host: h.address, port: h.port }, login), h.name === 'b1' ? 'primary' : 'standby', h.name);
    }
  });

  test('a re-run on every host changes nothing and leaves the roles as they are', async () => {
    const before = await superuser(f.hosts[0]!, 'SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ($$replicator$$, $$pgvigil_monitor$$) ORDER BY 1');
    for (const h of f.hosts) assert.deepEqual(await runBootstrap(h), { ok: true, did: 'configured', changed: [] }, h.name);
    assert.deepEqual(await superuser(f.hosts[0]!, 'SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ($$replicator$$, $$pgvigil_monitor$$) ORDER BY 1'), before);
    const [recovery] = await superuser(f.hosts[1]!, 'SELECT pg_is_in_recovery() AS r');
    assert.deepEqual(recovery, { r: true });
  });

  test('bad config: one message naming the field, exit before touching anything', async () => {
    const { writeFile } = await import('node:fs/promises');
    const h = { ...f.hosts[0]!, configPath: `${f.workDir}/bad.json` };
    await writeFile(h.configPath, JSON.stringify({ cluster: 'boot', node: 'b9', listen: { port: 1 }, dataDir: '/x', bindir: '/x', pgPort: 5432, stateDir: '/x', lease: { ttlMs: 5000, renewEveryMs: 1000 }, key: 'k'.repeat(40), bootstrap: { address: '127.0.0.1', peers: [{ name: 'b1', host: '127.0.0.1', port: 1 }], hostDir: 'relative', clientCidrs: ['10.0.0.0/16'], ca: { dir: '/x' }, passwords: { monitor: { file: '/x' }, replication: { file: '/y' } } } }));
    const r = await runBootstrap(h);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, /bootstrap\.hostDir: give the host directory .* as an absolute path/);
  });
});
