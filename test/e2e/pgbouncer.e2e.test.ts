import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { runCli } from '../support/cliRun.ts';
import { ConnectPerTxLoad } from '../support/connectPerTxLoad.ts';
import { pgbench, pgbenchConn } from '../support/pgbench.ts';
import { pgbouncerBinary, startPgBouncer, type RunningPgBouncer } from '../support/pgbouncer.ts';
import { PgBouncerSpec } from '../../lib/domain/spec.ts';
import { createPgBouncerDriver } from '../../lib/endpoints/pgbouncer.ts';
import { consoleCommand } from '../../lib/endpoints/pgbouncerConsole.ts';
import { silentLog } from '../../lib/log.ts';
import { crashNode, startTestPipeline, upstreamOf, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { WriteLoad } from '../support/writeLoad.ts';

const BASE = 20000;
const PGBOUNCER_PORT = BASE + 350;

/** The port of the server a fresh connection through PgBouncer lands on, and whether it takes writes. */
async function servedBy(url: string): Promise<{ port: number; primary: boolean }> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  c.on('error', () => {});
  try {
    await c.connect();
    const { rows } = await c.query<{ port: number; standby: boolean }>('SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby');
    return { port: rows[0]!.port, primary: !rows[0]!.standby };
  } finally {
    await c.end().catch(() => {});
  }
}

describe('PgBouncer in front of the cluster, driven by pgvigil (issue 17 part 2)', { skip: pgbouncerBinary() ? false : 'pgbouncer is not installed (scripts/setup.sh installs it as root)' }, () => {
  let p: TestPipeline;
  let bouncer: RunningPgBouncer;
  before(async () => {
    bouncer = await startPgBouncer(PGBOUNCER_PORT);
    p = await startTestPipeline(BASE, { pgbouncer: bouncer.spec });
    await waitFor('pgbouncer to route to the primary', async () => (await servedBy(bouncer.url())).primary, 30_000, 200);
    const init = await pgbench(p.cluster.bindir, ['-i', '-s', '1', ...pgbenchConn(p.cluster.nodes[0]!.port), 'postgres']).done;
    assert.equal(init.code, 0, init.stderr);
  });
  after(async () => {
    await p?.dispose();
    await bouncer?.stop();
  });

  test('a switchover under pgbench (8 persistent sessions, transaction mode): no client error; PgBouncer paused before the demote and resumed on the new primary', async () => {
    const before = await p.state();
    const run = pgbench(p.cluster.bindir, ['-n', '-c', '8', '-T', '15', '-P', '1', ...pgbenchConn(PGBOUNCER_PORT), 'postgres']);
    await run.running;
    const r = await runCli(['switchover', '--json', '--timeout', '60', '--workdir', p.workDir]);
    assert.equal(r.code, 0, r.stderr);
    const done = await run.done;
    assert.deepEqual(done.errors, [], 'pgbench through PgBouncer saw no error');
    assert.equal(done.code, 0, done.stderr);

    const after = (await p.state())!;
    assert.notEqual(after.primary, before!.primary);
    const port = p.cluster.nodes.find((n) => n.name === after.primary)!.port;
    assert.match(await readFile(bouncer.databasesFile, 'utf8'), new RegExp(`postgres = host=127\\.0\\.0\\.1 port=${port} dbname=postgres`));
    assert.deepEqual(await servedBy(bouncer.url()), { port, primary: true });

    // The kit tails the log: the command's answer can come before the events reach it.
    const demote = await waitFor('the demote to be recorded', () => p.events.find((e) => e.type === 'ActionSucceeded' && e.intent.action === 'demote' && e.term === after.term), 10_000);
    assert.match(demote.reason, /pgbouncer 127\.0\.0\.1:20350: paused in \d+ ms/);
    const endpoints = await waitFor('the endpoints change to be recorded', () => p.events.find((e) => e.type === 'ActionSucceeded' && e.intent.action === 'endpoints' && e.term === after.term), 10_000);
    assert.match(endpoints.reason, new RegExp(`pgbouncer 127\\.0\\.0\\.1:20350: postgres pointed at ${after.primary}, reloaded, resumed after a \\d+ ms pause`));
  });

  test('a PgBouncer that answers nothing (SIGSTOP) does not hold up a switchover: each step gives up at its bound and says so; the rewritten file points it once reloaded', async () => {
    const before = (await p.state())!;
    for (const n of p.cluster.nodes) if (n.name !== before.primary) await waitFor(`${n.name} to stream from ${before.primary}`, async () => (await upstreamOf(p, n.name)) === before.primary, 60_000, 200);
    bouncer.signal('SIGSTOP');
    try {
      const r = await runCli(['switchover', '--json', '--timeout', '60', '--workdir', p.workDir]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      bouncer.signal('SIGCONT');
    }
    const after = (await p.state())!;
    assert.notEqual(after.primary, before.primary);
    const demote = await waitFor('the demote to be recorded', () => p.events.find((e) => e.type === 'ActionSucceeded' && e.intent.action === 'demote' && e.term === after.term), 10_000);
    assert.match(demote.reason, /pgbouncer 127\.0\.0\.1:20350: not paused cleanly: PAUSE: /);
    const endpoints = await waitFor('the endpoints change to be recorded', () => p.events.find((e) => e.type === 'ActionSucceeded' && e.intent.action === 'endpoints' && e.term === after.term), 10_000);
    assert.match(endpoints.reason, /pgbouncer 127\.0\.0\.1:20350: re-point failed: /);
    const port = p.cluster.nodes.find((n) => n.name === after.primary)!.port;
    assert.match(await readFile(bouncer.databasesFile, 'utf8'), new RegExp(`port=${port} dbname=postgres`));
    const reload = await consoleCommand(bouncer.admin, undefined, 'RELOAD', 5_000);
    assert.ok(reload.ok, reload.ok ? '' : reload.reason);
    await waitFor('pgbouncer to route to the new primary once reloaded', async () => {
      const at = await servedBy(bouncer.url());
      return at.port === port && at.primary;
    }, 30_000, 200);
  });

  test('a crash failover: PgBouncer is paused when the failover starts (nothing fails after), re-pointed at the new primary and resumed', async () => {
    const old = (await p.state())!;
    await WriteLoad.prepare(p.cluster.connectionString(old.primary!));
    const load = new ConnectPerTxLoad(bouncer.url());
    load.start();
    await waitFor('writes through PgBouncer', () => load.acked.length >= 20);

    const killedAt = Date.now();
    const oldPort = p.cluster.nodes.find((n) => n.name === old.primary)!.port;
    await crashNode(p, old.primary!);
    await waitFor('a write through PgBouncer acknowledged by the new primary', () => load.ackTimes.some((t, i) => t >= killedAt && load.ackPorts[i] !== oldPort), 60_000);
    const acked = load.acked.length;
    await waitFor('more writes on the new primary', () => load.acked.length >= acked + 20, 30_000);
    await load.stop();

    const next = (await p.state())!;
    assert.notEqual(next.primary, old.primary);
    const port = p.cluster.nodes.find((n) => n.name === next.primary)!.port;
    assert.match(await readFile(bouncer.databasesFile, 'utf8'), new RegExp(`port=${port} dbname=postgres`));
    const fence = await waitFor('the fence answer to be recorded', () => p.events.find((e) => e.type !== 'ActionRequested' && 'intent' in e && e.intent.action === 'fence' && e.term === next.term), 10_000);
    assert.ok(fence && fence.type !== 'ActionRequested' && 'reason' in fence, 'the fence was answered');
    assert.match(fence.reason, /pgbouncer 127\.0\.0\.1:20350: paus/);
    const endpoints = await waitFor('the endpoints change to be recorded', () => p.events.find((e) => e.type === 'ActionSucceeded' && e.intent.action === 'endpoints' && e.term === next.term), 10_000);
    assert.match(endpoints.reason, new RegExp(`pgbouncer 127\\.0\\.0\\.1:20350: postgres pointed at ${next.primary}, reloaded, resumed after a \\d+ ms pause`));
    process.stdout.write(`# through PgBouncer across the crash: ${load.connectErrors.length} connect errors, ${load.statementErrors.length} statement errors\n`);
    // Before the failover starts pgvigil knows nothing: PgBouncer answers a query for which it can't
    // log in to the dead primary with an error (server_login_retry), and a statement on a pooled
    // connection to it fails. From the fence's PAUSE on, queries wait: nothing fails after its answer.
    assert.ok(fence.at >= killedAt);
    const late = load.errorTimes.filter((t) => t > fence.at);
    assert.deepEqual(late, [], `no error after PgBouncer was paused (errors: ${[...load.connectErrors, ...load.statementErrors].join('; ')})`);
    for (const e of [...load.connectErrors, ...load.statementErrors]) assert.match(e, /unexpected postmaster exit|server closed the connection|terminating connection|server login has been failing|server conn crashed|not queryable/, 'every error came from the crashed primary or from PgBouncer failing to reach it');
  });

  test('a control plane that cannot write the databases file (a Lambda) leaves PgBouncer alone: it is not paused', async () => {
    const spec = PgBouncerSpec.parse({ instances: [{ admin: bouncer.admin, databasesFile: '/nonexistent-pgvigil-dir/databases.ini' }], databases: [{ name: 'postgres' }] });
    const driver = createPgBouncerDriver(spec, silentLog);
    try {
      const run = await driver.drain((await p.state())!.term + 1);
      assert.equal(run.steps[0]!.ok, false);
      assert.match(run.summary, /pgbouncer 127\.0\.0\.1:20350: not paused cleanly: not paused: this control plane cannot write \/nonexistent-pgvigil-dir\/databases\.ini/);
      assert.ok((await servedBy(bouncer.url())).primary, 'queries through PgBouncer still run');
    } finally {
      driver.close();
    }
  });
});
