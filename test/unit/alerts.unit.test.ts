import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertsFor } from '../../lib/alerts/alertMessage.ts';
import type { DecisionEvent } from '../../lib/domain/events.ts';

const at = Date.parse('2026-11-24T03:12:00Z');
const evidence = { node: 'pg1', reachable: false, role: 'unknown', error: 'refused: x', consecutiveFailures: 3, receiver: null, lsn: null };
const ev = (e: Omit<DecisionEvent, 'v' | 'at' | 'term'> & Record<string, unknown>): DecisionEvent => ({ v: 1, at, term: 1, ...e }) as DecisionEvent;

test('every alert sent while paused says so, from the Paused alert on, and none after Resumed', () => {
  const alerts = alertsFor(
    'orders',
    [
      ev({ type: 'Paused', reason: 'maintenance' }),
      ev({ type: 'NodeDown', reason: 'pg1 failed', node: 'pg1', evidence }),
      ev({ type: 'Resumed', reason: 'done' }),
      ev({ type: 'NodeUp', reason: 'pg1 answers', node: 'pg1', evidence: { ...evidence, reachable: true, role: 'standby', error: null, consecutiveFailures: 0 } }),
    ],
    false,
  );
  assert.deepEqual(
    alerts.map((a) => [a.event, a.paused]),
    [
      ['Paused', true],
      ['NodeDown', true],
      ['Resumed', false],
      ['NodeUp', false],
    ],
  );
  assert.match(alerts[1]!.subject, /^\[pgvigil WARNING\] orders: node pg1 is down \[PAUSED\]$/);
  assert.match(alerts[1]!.body, /paused: maintenance mode, no automatic action/);
  assert.doesNotMatch(alerts[2]!.subject + alerts[2]!.body, /PAUSED|paused:/);
  assert.match(alerts[1]!.body, /Look further: pgvigil history --since 2026-11-24T03:11:00\.000Z/);
});

test('a decision with no alertable event sends nothing; one already paused before stays paused', () => {
  assert.deepEqual(alertsFor('orders', [ev({ type: 'SyncSetChanged', reason: 'x', members: [] })], true), []);
  const down = alertsFor('orders', [ev({ type: 'NodeDown', reason: 'pg1 failed', node: 'pg1', evidence })], true);
  assert.equal(down[0]?.paused, true);
});

test('a primary waiting for another commit quorum than the spec asks is a critical alert; its setting agreeing again is audit only', () => {
  const reported = (value: string, matches: boolean) =>
    ev({ type: 'SyncNamesReported', reason: `pg1 commits with '${value}'`, node: 'pg1', value, expected: 'ANY 1 (pg1, pg2, pg3)', matches });
  const alerts = alertsFor('orders', [reported('', false), reported('ANY 1 (pg1, pg2, pg3)', true)], false);
  assert.deepEqual(alerts.map((a) => [a.event, a.severity, a.node]), [['SyncNamesReported', 'critical', 'pg1']]);
  assert.match(alerts[0]!.subject, /primary pg1 waits for another commit quorum than the spec asks/);
  assert.match(alerts[0]!.body, /Reason:   pg1 commits with ''/);
});
