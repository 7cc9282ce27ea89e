import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { localBootstrapHosts, runBootstrap, type BootstrapHost } from '../support/bootstrapHosts.ts';
import { waitFor } from '../support/waitFor.ts';

// Real servers as the unprivileged OS user, each host made only by `pgvigil-agent bootstrap`:
// a new host copies a streaming standby, not the primary, and then streams from the primary;
// when the commit quorum needs every streaming standby, it copies the primary instead.
describe('pgvigil-agent bootstrap: a new host copies a standby when one can be spared', () => {
  const f = localBootstrapHosts({ tmpPrefix: '/tmp/pgvigil-h5-clone-', cluster: 'h5clone', names: ['c1', 'c2', 'c3', 'c4'], port: 29100, agentPort: 29200 });
  const host = f.host;
  const superuser = <R extends object>(h: BootstrapHost, text: string) => sqlOnce<R>(h.port, text, [], { host: h.files.socketDir });

  const streamsFromPrimary = (names: string[]) =>
    waitFor(`${names.join(', ')} stream from c1`, async () => {
      const r = await superuser<{ name: string }>(host('c1'), "SELECT application_name AS name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1");
      return names.every((n) => r.some((x) => x.name === n)) ? r : undefined;
    });

  test('with no standby yet, the second host copies the primary', async () => {
    assert.deepEqual(await runBootstrap(host('c1')), { ok: true, did: 'initialised the primary', changed: ['data directory'] });
    await superuser(host('c1'), 'CREATE TABLE t (v int); INSERT INTO t VALUES (1)');
    assert.deepEqual(await runBootstrap(host('c2')), { ok: true, did: 'joined as a standby', from: 'c1', changed: ['data directory'] });
    await streamsFromPrimary(['c2']);
  });

  test('with a streaming standby, the third host copies it, then streams from the primary through its slot there', async () => {
    assert.deepEqual(await runBootstrap(host('c3')), { ok: true, did: 'joined as a standby', from: 'c2', changed: ['data directory'] });
    const rows = await streamsFromPrimary(['c2', 'c3']);
    assert.deepEqual(rows.map((r) => r.name), ['c2', 'c3'], 'c3 streams from c1 itself, not through c2 (a cascade)');
    assert.deepEqual(await superuser(host('c1'), "SELECT slot_name, active FROM pg_replication_slots WHERE slot_name = 'c3'"), [{ slot_name: 'c3', active: true }]);
    // pg_basebackup's session on c2 (and its temporary slot) ends as its walsender exits, just after the copy.
    await waitFor('nothing streams from c2, and no slot is left there, once the copy is done', async () => {
      const senders = await superuser(host('c2'), 'SELECT application_name FROM pg_stat_replication');
      const slots = await superuser(host('c2'), 'SELECT slot_name FROM pg_replication_slots');
      return senders.length === 0 && slots.length === 0 ? true : undefined;
    });
    await superuser(host('c1'), 'INSERT INTO t VALUES (2)');
    await waitFor('c3 replays a write made after its copy', async () => {
      const r = await superuser<{ n: string }>(host('c3'), 'SELECT count(*) AS n FROM t');
      return r[0]?.n === '2' ? true : undefined;
    });
  });

  test('when the quorum needs every streaming standby (ANY 2 of c2, c3), the fourth host copies the primary', async () => {
    await superuser(host('c1'), "ALTER SYSTEM SET synchronous_standby_names = 'ANY 2 (c2, c3)'");
    await superuser(host('c1'), 'SELECT pg_reload_conf()');
    await waitFor('c2 and c3 count as quorum members', async () => {
      const r = await superuser<{ n: string }>(host('c1'), "SELECT count(*) AS n FROM pg_stat_replication WHERE sync_state = 'quorum'");
      return r[0]?.n === '2' ? true : undefined;
    });
    assert.deepEqual(await runBootstrap(host('c4')), { ok: true, did: 'joined as a standby', from: 'c1', changed: ['data directory'] });
    await streamsFromPrimary(['c2', 'c3', 'c4']);
  });
});
