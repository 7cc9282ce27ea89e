import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decideRequest, parseDecideAnswer } from '../../lib/cli/decideInvoke.ts';
import { evidenceLine, historyLines, matchesNode, matchesType } from '../../lib/cli/historyLines.ts';
import { parseTimeArg } from '../../lib/cli/timeArg.ts';
import type { DecisionEvent } from '../../lib/domain/events.ts';

const now = Date.parse('2026-11-24T03:30:00Z');

describe('time arguments', () => {
  test('relative times count back for --since and ahead for --at', () => {
    assert.deepEqual(parseTimeArg('--since', '10m', now, 'ago'), { ok: true, at: now - 600_000 });
    assert.deepEqual(parseTimeArg('--since', '2h', now, 'ago'), { ok: true, at: now - 7_200_000 });
    assert.deepEqual(parseTimeArg('--at', '+90s', now, 'ahead'), { ok: true, at: now + 90_000 });
  });
  test('ISO times, UTC when no zone is given', () => {
    assert.deepEqual(parseTimeArg('--since', '2026-11-24T03:12:00Z', now, 'ago'), { ok: true, at: Date.parse('2026-11-24T03:12:00Z') });
    assert.deepEqual(parseTimeArg('--since', '2026-11-24 03:12', now, 'ago'), { ok: true, at: Date.parse('2026-11-24T03:12:00Z') });
    assert.deepEqual(parseTimeArg('--since', '2026-11-24T04:12:00+01:00', now, 'ago'), { ok: true, at: Date.parse('2026-11-24T03:12:00Z') });
  });
  test('anything else is refused with the flag, the value and examples', () => {
    for (const bad of ['yesterday', '10', '10 minutes', '2026-13-45T00:00:00Z', '']) {
      const r = parseTimeArg('--since', bad, now, 'ago');
      assert.equal(r.ok, false, bad);
      if (!r.ok) assert.match(r.reason, /^--since ".*" is not a time: give an ISO time .* or a relative one \(10m, 2h, 1d\)$/);
    }
  });
});

const evidence = [
  { node: 'pg1', reachable: false, role: 'unknown', error: 'refused: connect ECONNREFUSED', consecutiveFailures: 4, receiver: null, lsn: '0/3000060' },
  { node: 'pg2', reachable: true, role: 'standby', error: null, consecutiveFailures: 0, receiver: 'stopped from pg1', lsn: '0/3000060' },
];
const started: DecisionEvent = {
  v: 1,
  type: 'FailoverStarted',
  at: Date.parse('2026-11-24T03:12:04.250Z'),
  term: 2,
  reason: 'pg1 failed 4 probes in a row',
  kind: 'failover',
  from: 'pg1',
  to: 'pg2',
  evidence,
};

describe('history lines', () => {
  test('a failover start shows time, seq, term, event, node, reason, then what each node looked like', () => {
    const lines = historyLines({ seq: 7, event: started });
    assert.match(lines[0]!, /^2026-11-24T03:12:04\.250Z\s+7\s+2\s+FailoverStarted\s+pg2\s+pg1 failed 4 probes in a row$/);
    assert.match(lines[1]!, /evidence \(what the probes saw\):/);
    assert.match(lines[2]!, /pg1\s+unreachable \(refused: connect ECONNREFUSED\), 4 failed probes, LSN 0\/3000060/);
    assert.match(lines[3]!, /pg2\s+standby, receiver stopped from pg1, LSN 0\/3000060/);
  });
  test('--node matches the old primary of a failover as well as its target; --type matches types and intent labels', () => {
    assert.ok(matchesNode(started, 'pg1') && matchesNode(started, 'pg2') && !matchesNode(started, 'pg3'));
    assert.ok(matchesType(started, ['failoverstarted']));
    const intent = { id: '2:promote:pg2', action: 'promote', node: 'pg2', term: 2, primary: null, minLsn: null, readers: null } as const;
    const requested: DecisionEvent = { v: 1, type: 'ActionRequested', at: 0, term: 2, reason: 'promote pg2', intent };
    assert.ok(matchesType(requested, ['promote-requested']) && matchesType(requested, ['actionrequested']) && !matchesType(requested, ['fence-requested']));
  });
  test('a completed failover says how long it took from its start; one from an older log says nothing of it', () => {
    const done: DecisionEvent = { v: 1, type: 'FailoverCompleted', at: started.at + 1_750, term: 2, reason: 'endpoints moved to pg2', kind: 'failover', from: 'pg1', to: 'pg2', startedAt: started.at };
    assert.deepEqual(historyLines({ seq: 12, event: done }).slice(1), ['        took 1.8 s from FailoverStarted']);
    const { startedAt: _, ...older } = done;
    assert.deepEqual(historyLines({ seq: 12, event: older as DecisionEvent }).slice(1), []);
  });
  test('an evidence line for a node never seen says so', () => {
    assert.equal(evidenceLine({ node: 'pg3', reachable: false, role: 'unseen', error: 'no fresh observation', consecutiveFailures: 0, receiver: null, lsn: null }), 'pg3     unreachable (no fresh observation)');
  });
});

describe('decide function request and answer (AWS mode)', () => {
  test('the request names its source, the cluster and the command without observations', () => {
    const req = decideRequest('orders', { type: 'switchover', now: 1, to: 'pg2', requestedBy: 'dba' });
    assert.deepEqual(JSON.parse(JSON.stringify(req)), { source: 'pgvigil.cli', cluster: 'orders', command: { type: 'switchover', now: 1, to: 'pg2', requestedBy: 'dba' } });
  });
  test('answers: accepted with events, refused, and garbage as a failure', () => {
    const ok = parseDecideAnswer(JSON.stringify({ ok: true, seq: 9, events: [started] }), 'fn');
    assert.deepEqual(ok, { ok: true, seq: 9, events: [started] });
    assert.deepEqual(parseDecideAnswer('{"ok":false,"reason":"unknown node \\"pg9\\""}', 'fn'), { ok: false, refused: true, reason: 'unknown node "pg9"' });
    assert.deepEqual(parseDecideAnswer('{"ok":false,"reason":"store unreachable","refused":false}', 'fn'), { ok: false, refused: false, reason: 'store unreachable' });
    const bad = parseDecideAnswer('<html>', 'fn');
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.equal(bad.refused, false);
    const wrong = parseDecideAnswer('{"ok":"yes"}', 'fn');
    assert.ok(!wrong.ok && !wrong.refused && /answer of decide function fn: ok/.test(wrong.reason));
  });
});
