import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLambdaEnv } from '../../lib/control/lambdaEnv.ts';

const base = {
  PGVIGIL_TABLE: 'pgvigil',
  PGVIGIL_CLUSTERS: JSON.stringify([{ cluster: 'demo', nodes: [{ name: 'pg-a', host: '10.0.0.1', port: 5432, agent: 'https://10.0.0.1:8008' }] }]),
};

describe('the Lambda environment: notify\'s EventBridge switch', () => {
  test('absent, decisions go to EventBridge too; off switches that off', () => {
    const on = parseLambdaEnv({ ...base });
    const off = parseLambdaEnv({ ...base, PGVIGIL_DECISION_EVENTS: 'off' });
    assert.equal(on.ok && on.value.PGVIGIL_DECISION_EVENTS, 'on');
    assert.equal(off.ok && off.value.PGVIGIL_DECISION_EVENTS, 'off');
  });

  test('any other value is refused in one message naming the variable and its two values', () => {
    const e = parseLambdaEnv({ ...base, PGVIGIL_DECISION_EVENTS: 'yes' });
    assert.equal(e.ok, false);
    assert.match(e.ok ? '' : e.reason, /^Lambda environment: PGVIGIL_DECISION_EVENTS: set PGVIGIL_DECISION_EVENTS to 'on' or 'off'/);
  });
});
