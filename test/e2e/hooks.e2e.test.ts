import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import { hookEventsOf } from '../../lib/hooks/hookedEvents.ts';
import { crashNode, startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';

describe('event hook on a real local pipeline: a crash of the primary', () => {
  let p: TestPipeline;
  let dir: string;
  let out: string;
  let stopped = false;
  const decisions: Array<{ seq: number; events: DecisionEvent[] }> = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgvigil-hook-e2e-'));
    out = join(dir, 'events.jsonl');
    const hook = join(dir, 'on-event.sh');
    // What a user writes: one line per event, from the environment and the JSON on stdin.
    await writeFile(hook, `#!/bin/sh\nprintf '%s %s seq=%s node=%s reason=%s\\n' "$PGVIGIL_AT" "$PGVIGIL_EVENT_TYPE" "$PGVIGIL_SEQ" "\${PGVIGIL_NODE:-}" "$PGVIGIL_REASON" >> '${join(dir, 'events.txt')}'\ncat >> '${out}'\n`);
    await chmod(hook, 0o755);
    p = await startTestPipeline(19100, { eventHook: { command: `'${hook}'` }, onDecision: (seq, events) => decisions.push({ seq, events }) });
  });
  after(async () => {
    if (stopped) await rm(p.workDir, { recursive: true, force: true });
    else await p?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const hooked = async () => (existsSync(out) ? (await readFile(out, 'utf8')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as DecisionEvent & { seq: number; index: number; cluster: string }) : []);

  test('the hook gets FailoverStarted … FailoverCompleted once each, in log order, with their reasons', async () => {
    await crashNode(p, 'pg1');
    await waitFor('the hook to see FailoverCompleted', async () => (await hooked()).some((e) => e.type === 'FailoverCompleted'), 90_000);
    // Stopping drains the hook queue: every decision the follower saw has had its hook run.
    await p.stop();
    stopped = true;
    const got = await hooked();
    const expected = decisions.flatMap((d) => hookEventsOf('local', d.seq, d.events));
    assert.deepEqual(got.map((e) => [e.seq, e.index, e.type]), expected.map((e) => [e.seq, e.index, e.type]), 'each hooked event of the log once, in log order');
    assert.deepEqual(got, expected, 'the JSON on stdin is the event as logged, with cluster, seq and index');
    const types = got.map((e) => e.type);
    const from = types.indexOf('FailoverStarted');
    const to = types.indexOf('FailoverCompleted');
    assert.ok(from >= 0 && to > from, `FailoverStarted before FailoverCompleted (got ${types.join(', ')})`);
    for (const t of ['FailoverStarted', 'FailoverCompleted']) assert.equal(types.filter((x) => x === t).length, 1, `${t} once`);
    for (const t of ['Fenced', 'Promoted'] as const) assert.ok(types.slice(from, to).includes(t), `${t} between them`);
    assert.ok(types.slice(0, from).includes('NodeDown'), 'the NodeDown that started it came first');
    assert.equal(types.includes('ActionRequested' as never), false, 'no bookkeeping');
    for (const e of got) assert.ok(e.reason.length > 0, `${e.type} has its reason`);
    const lines = (await readFile(join(dir, 'events.txt'), 'utf8')).trim().split('\n');
    assert.equal(lines.length, got.length);
    assert.ok(lines.some((l) => / FailoverCompleted seq=\d+ node= reason=\S/.test(l)));
    if (process.env['PGVIGIL_TEST_LOG']) process.stderr.write(`${lines.join('\n')}\n${JSON.stringify(got.find((e) => e.type === 'FailoverCompleted'))}\n`);
  });
});
