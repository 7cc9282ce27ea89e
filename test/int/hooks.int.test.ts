import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import { HookQueue } from '../../lib/hooks/hookQueue.ts';
import { hookEventsOf } from '../../lib/hooks/hookedEvents.ts';
import { collectingLog, type LogEntry } from '../../lib/log.ts';

const dir = await mkdtemp(join(tmpdir(), 'pgvigil-hooks-'));
after(() => rm(dir, { recursive: true, force: true }));

const at = Date.UTC(2030, 0, 2, 3, 4, 5);
const ev = {
  down: { v: 1, at, term: 3, type: 'NodeDown', node: 'pg-a', reason: 'pg-a missed 3 probes', evidence: { node: 'pg-a', reachable: false, role: 'unknown', error: 'ECONNREFUSED', consecutiveFailures: 3, receiver: null, lsn: null } },
  started: { v: 1, at, term: 4, type: 'FailoverStarted', kind: 'failover', from: 'pg-a', to: 'pg-b', reason: "pg-a down; pg-b has the most WAL (it's \"0/3000060\")", evidence: [] },
  requested: { v: 1, at, term: 4, type: 'ActionRequested', reason: 'fence pg-a', intent: { id: '4:fence:pg-a', action: 'fence', node: 'pg-a', term: 4, primary: null, minLsn: null, readers: null } },
  completed: { v: 1, at, term: 4, type: 'FailoverCompleted', kind: 'failover', from: 'pg-a', to: 'pg-b', reason: 'pg-b promoted; endpoints moved' },
} satisfies Record<string, DecisionEvent>;

/** A hook script: one line per event, from the environment and from stdin. */
async function recorder(name: string, extra = ''): Promise<{ cmd: string; out: string }> {
  const out = join(dir, `${name}.out`);
  const script = join(dir, `${name}.sh`);
  await writeFile(
    script,
    [
      '#!/bin/sh',
      'json=$(cat)',
      extra,
      `printf '%s|%s|%s|%s|%s|%s|%s\\n' "$PGVIGIL_EVENT_TYPE" "$PGVIGIL_CLUSTER" "$PGVIGIL_TERM" "$PGVIGIL_SEQ" "$PGVIGIL_NODE" "$PGVIGIL_REASON" "$json" >> '${out}'`,
    ].join('\n'),
  );
  await chmod(script, 0o755);
  return { cmd: `'${script}'`, out };
}

async function lines(file: string): Promise<string[][]> {
  if (!existsSync(file)) return [];
  return (await readFile(file, 'utf8')).trim().split('\n').filter(Boolean).map((l) => l.split('|'));
}

describe('event hooks: the command run per decision event', () => {
  test('each hooked event once, in log order, with its fields in env and the event as JSON on stdin; bookkeeping left out', async () => {
    const { cmd, out } = await recorder('order');
    const log: LogEntry[] = [];
    const q = new HookQueue({ command: cmd, log: collectingLog(log) });
    q.enqueueDecision('demo', 7, [ev.down]);
    q.enqueueDecision('demo', 8, [ev.started, ev.requested]);
    q.enqueueDecision('demo', 9, [ev.completed]);
    await q.drain();
    const got = await lines(out);
    assert.deepEqual(
      got.map((l) => l.slice(0, 6)),
      [
        ['NodeDown', 'demo', '3', '7', 'pg-a', 'pg-a missed 3 probes'],
        ['FailoverStarted', 'demo', '4', '8', '', ev.started.reason],
        ['FailoverCompleted', 'demo', '4', '9', '', 'pg-b promoted; endpoints moved'],
      ],
    );
    const stdin = JSON.parse(got[1]!.slice(6).join('|')) as Record<string, unknown>;
    assert.deepEqual(stdin, { ...ev.started, cluster: 'demo', seq: 8, index: 0 });
    assert.equal(log.filter((l) => l.level === 'warn').length, 0);
  });

  test("the hook's environment is a fixed set: PATH, HOME and PGVIGIL_*, none of pgvigil's own variables", async () => {
    const out = join(dir, 'env.out');
    process.env['PGVIGIL_TEST_SECRET'] = 'do-not-leak';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'do-not-leak-either';
    try {
      const q = new HookQueue({ command: `env | cut -d= -f1 | sort > '${out}'`, log: () => {} });
      q.enqueueDecision('demo', 9, [ev.started]);
      await q.drain();
    } finally {
      delete process.env['PGVIGIL_TEST_SECRET'];
      delete process.env['AWS_SECRET_ACCESS_KEY'];
    }
    const names = (await readFile(out, 'utf8')).trim().split('\n');
    // sh itself adds PWD (and dash may add OLDPWD/SHLVL-like names): nothing from the parent.
    const fromUs = names.filter((n) => !['PWD', 'OLDPWD', 'SHLVL', '_'].includes(n));
    assert.deepEqual(fromUs, ['HOME', 'PATH', 'PGVIGIL_AT', 'PGVIGIL_CLUSTER', 'PGVIGIL_EVENT_TYPE', 'PGVIGIL_FROM', 'PGVIGIL_INDEX', 'PGVIGIL_KIND', 'PGVIGIL_REASON', 'PGVIGIL_SEQ', 'PGVIGIL_TERM', 'PGVIGIL_TO']);
  });

  test('a hook past its bound is killed with its children, logged, and the next event still runs', async () => {
    const { cmd, out } = await recorder('slow', '[ "$PGVIGIL_EVENT_TYPE" = NodeDown ] && { sleep 37.25 & sleep 37.25; }');
    const log: LogEntry[] = [];
    const q = new HookQueue({ command: cmd, log: collectingLog(log), timeoutMs: 500 });
    q.enqueueDecision('demo', 7, [ev.down]);
    q.enqueueDecision('demo', 9, [ev.completed]);
    await q.drain();
    assert.deepEqual((await lines(out)).map((l) => l[0]), ['FailoverCompleted']);
    const killed = log.find((l) => l.msg === 'event hook failed');
    assert.ok(killed, 'the overrun is logged');
    assert.equal(killed.event, 'NodeDown');
    assert.match(String(killed.reason), /killed after 500 ms/);
    // The background sleep of the killed hook went with its process group.
    const { execFileSync } = await import('node:child_process');
    const sleeps = execFileSync('sh', ['-c', "ps -eo args | grep -c '^sleep 37.25$' || true"], { encoding: 'utf8' }).trim();
    assert.equal(sleeps, '0', 'no sleep of the killed hook is left');
  });

  test('a failing hook is logged with its stderr and changes nothing for the next', async () => {
    const { cmd, out } = await recorder('fail', '[ "$PGVIGIL_EVENT_TYPE" = NodeDown ] && { echo "pager: 503 from upstream" >&2; exit 3; }');
    const log: LogEntry[] = [];
    const q = new HookQueue({ command: cmd, log: collectingLog(log) });
    q.enqueueDecision('demo', 7, [ev.down]);
    q.enqueueDecision('demo', 9, [ev.completed]);
    await q.drain();
    assert.deepEqual((await lines(out)).map((l) => l[0]), ['FailoverCompleted']);
    const failed = log.find((l) => l.msg === 'event hook failed');
    assert.equal(failed?.reason, 'exited with 3');
    assert.match(String(failed?.stderr), /pager: 503 from upstream/);
  });

  test('enqueue returns while the hook still runs: the caller never waits for it', async () => {
    const gate = join(dir, 'gate');
    const { cmd, out } = await recorder('gated', `while [ ! -e '${gate}' ]; do sleep 0.05; done`);
    const q = new HookQueue({ command: cmd, log: () => {}, timeoutMs: 20_000 });
    q.enqueueDecision('demo', 8, [ev.started]);
    q.enqueueDecision('demo', 9, [ev.completed]);
    // Back here with both events accepted, and the first hook blocked on a file only we create.
    assert.equal(q.queued, 1, 'the second event waits behind the running hook');
    assert.deepEqual(await lines(out), [], 'no hook has finished');
    await writeFile(gate, '');
    await q.drain();
    assert.deepEqual((await lines(out)).map((l) => l[0]), ['FailoverStarted', 'FailoverCompleted']);
  });

  test('far behind, the oldest waiting events are dropped and the count is logged', async () => {
    const gate = join(dir, 'gate2');
    const { cmd, out } = await recorder('behind', `while [ ! -e '${gate}' ]; do sleep 0.05; done`);
    const log: LogEntry[] = [];
    const q = new HookQueue({ command: cmd, log: collectingLog(log), maxQueued: 2, timeoutMs: 20_000 });
    for (let seq = 1; seq <= 6; seq++) q.enqueueDecision('demo', seq, [{ ...ev.down, reason: `r${seq}` }]);
    assert.equal(q.queued, 2);
    await writeFile(gate, '');
    await q.drain();
    // seq 1 was running; 2..4 were dropped for 5 and 6.
    assert.deepEqual((await lines(out)).map((l) => l[3]), ['1', '5', '6']);
    const drop = log.find((l) => String(l.msg).includes('dropped'));
    assert.equal(drop?.dropped, 3);
  });

  test('stop lets queued hooks finish within the grace and takes no new events', async () => {
    const { cmd, out } = await recorder('stop');
    const q = new HookQueue({ command: cmd, log: () => {} });
    q.enqueueDecision('demo', 7, [ev.down]);
    await q.stop();
    q.enqueueDecision('demo', 9, [ev.completed]);
    await q.drain();
    assert.deepEqual((await lines(out)).map((l) => l[0]), ['NodeDown']);
  });

  test('which events are hooked: not the action bookkeeping', () => {
    const hooked = hookEventsOf('demo', 1, [ev.started, ev.requested, ev.completed]);
    assert.deepEqual(hooked.map((e) => [e.type, e.index]), [['FailoverStarted', 0], ['FailoverCompleted', 2]]);
  });
});

