import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { alertFor } from '../../../lib/alerts/alertMessage.ts';
import { historyLines } from '../../../lib/cli/historyLines.ts';
import { initialState } from '../../../lib/domain/state.ts';
import { decide } from '../../../lib/domain/decide.ts';
import { T0, crashedRound, given, initialized, stateOf, step } from './kit.ts';

const start = initialized();
const restarted = (over: Partial<{ node: string; exitCode: number | null; signal: string | null; restarts: number }> = {}) => ({
  type: 'agentRestarted' as const,
  now: T0 + 1_000,
  node: 'pg2',
  exitCode: null,
  signal: 'SIGKILL',
  restarts: 1,
  reason: 'it had run 12.0 s; back-off 100 ms; it answers again',
  ...over,
});

describe('agentRestarted: a supervisor restarted a dead agent, recorded for the audit log', () => {
  test('given a healthy cluster, when pg2\'s agent was restarted after SIGKILL, then AgentRestarted says how it died, and in the current term', () => {
    const t = given(start).when(restarted());
    const e = t.one('AgentRestarted');
    assert.deepEqual([e.node, e.signal, e.exitCode, e.restarts, e.term], ['pg2', 'SIGKILL', null, 1, 1]);
    assert.match(e.reason, /agent of pg2 was killed by SIGKILL; its supervisor restarted it \(restart 1\): it had run 12\.0 s/);
    assert.deepEqual(t.types, ['AgentRestarted'], 'nothing else is decided on it');
  });

  test('given an exit code, then the reason names it', () => {
    const e = given(start).when(restarted({ signal: null, exitCode: 1, restarts: 3 })).one('AgentRestarted');
    assert.match(e.reason, /exited with code 1; .*\(restart 3\)/);
  });

  test('given a failover in progress, then the restart changes no failover state', () => {
    const failing = step(start, { type: 'probeRound', now: T0 + 500, observations: crashedRound(T0 + 500, 5) });
    const before = stateOf(failing);
    assert.ok(before.failover, 'a failover is under way');
    const t = given(failing).when(restarted({ node: 'pg1' }));
    assert.deepEqual(t.types, ['AgentRestarted']);
    assert.deepEqual(t.state, before, 'the state folds to what it was');
  });

  test('given an unknown node or no cluster yet, then it is refused with a reason', () => {
    const unknown = given(start).when(restarted({ node: 'pg9' })).decision;
    assert.ok(!unknown.ok && /unknown node "pg9"/.test(unknown.reason));
    const early = decide(restarted(), initialState('main'));
    assert.ok(!early.ok && /not initialized/.test(early.reason));
  });

  test('the history shows it on pg2, and an alert warns of it', () => {
    const e = given(start).when(restarted()).one('AgentRestarted');
    const [line] = historyLines({ seq: 7, event: e });
    assert.match(line!, /AgentRestarted\s+pg2\s+the agent of pg2 was killed by SIGKILL/);
    const alert = alertFor('main', e, false);
    assert.equal(alert?.severity, 'warning');
    assert.match(alert!.subject, /agent of pg2 died and was restarted \(restart 1\)/);
  });
});
