import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cliRun.ts';
import { pgbench, pgbenchConn } from '../support/pgbench.ts';
import { startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';

describe('a switchover under pgbench through the writer endpoint', () => {
  let p: TestPipeline;
  before(async () => {
    p = await startTestPipeline(19030);
    const init = await pgbench(p.cluster.bindir, ['-i', '-s', '1', ...pgbenchConn(p.proxy.addresses.writer.port), 'postgres']).done;
    assert.equal(init.code, 0, init.stderr);
  });
  after(async () => {
    await p?.dispose();
  });

  test('no client error with a connection per transaction or with persistent sessions; no transaction cut; history shows the pause', async () => {
    const conn = pgbenchConn(p.proxy.addresses.writer.port);
    const perTx = pgbench(p.cluster.bindir, ['-n', '-C', '-c', '4', '-T', '14', '-P', '1', ...conn, 'postgres']);
    const persistent = pgbench(p.cluster.bindir, ['-n', '-c', '4', '-T', '14', '-P', '1', ...conn, 'postgres']);
    await Promise.all([perTx.running, persistent.running]);

    const r = await runCli(['switchover', '--json', '--timeout', '60', '--workdir', p.workDir]);
    assert.equal(r.code, 0, r.stderr);
    const [a, b] = await Promise.all([perTx.done, persistent.done]);
    assert.deepEqual(a.errors, [], 'pgbench -C saw no error');
    assert.equal(a.code, 0, a.stderr);
    assert.deepEqual(b.errors, [], 'pgbench with persistent sessions saw no error: every session was drained and moved between transactions');
    assert.equal(b.code, 0, b.stderr);

    const demote = p.events.find((e) => e.type === 'ActionSucceeded' && e.intent.action === 'demote');
    assert.ok(demote && demote.type === 'ActionSucceeded', 'the demote succeeded');
    const drain = demote.detail['drain'] as { drained: number; cut: number };
    assert.equal(drain.cut, 0, 'no session was cut mid-transaction');
    assert.match(demote.reason, /writer endpoint paused: \d+ sessions drained between transactions, 0 cut/);
    const resumedAt = p.events.find((e) => e.type === 'ActionSucceeded' && e.intent.action === 'endpoints' && e.detail['resumed'] !== undefined);
    assert.ok(resumedAt && resumedAt.type === 'ActionSucceeded', 'the endpoints change after the promotion resumed the writer endpoint');
    assert.match(resumedAt.reason, /writer endpoint resumed after a \d+ ms pause: \d+ sessions moved, 0 closed between transactions/);
  });
});
