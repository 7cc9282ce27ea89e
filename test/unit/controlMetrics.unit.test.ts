import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { emfMetrics, metricsForRuntime } from '../../lib/control/controlMetrics.ts';
import type { DecisionEvent } from '../../lib/domain/events.ts';

type Emf = { _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } } & Record<string, unknown>;

describe('control-plane metrics (CloudWatch EMF)', () => {
  test('a count becomes one EMF document in namespace pgvigil with the cluster as a dimension', () => {
    const lines: string[] = [];
    const m = emfMetrics('pgvigil-decide', (l) => lines.push(l));
    m.failoverStarted('orders', 1);
    m.probesBlind('billing', 7);
    assert.equal(lines.length, 2);
    const [started, blind] = lines.map((l) => JSON.parse(l) as Emf);
    const directive = started!._aws.CloudWatchMetrics[0]!;
    assert.equal(directive.Namespace, 'pgvigil');
    assert.deepEqual(directive.Metrics.map((x) => x.Name), ['FailoverStarted']);
    assert.equal(directive.Metrics[0]!.Unit, 'Count');
    assert.ok(directive.Dimensions[0]!.includes('cluster'));
    assert.equal(started!['cluster'], 'orders');
    assert.equal(started!['FailoverStarted'], 1);
    assert.equal(blind!['cluster'], 'billing');
    assert.equal(blind!['ProbesBlind'], 7);
  });

  test('a decide run publishes how failovers ended and failed runs, nothing for a quiet run', () => {
    const lines: string[] = [];
    const m = emfMetrics('pgvigil-decide', (l) => lines.push(l));
    const completed = { type: 'FailoverCompleted' } as unknown as DecisionEvent;
    m.decideRun!('orders', { command: 'probeRound', outcome: 'unchanged', events: [], term: 3 });
    assert.equal(lines.length, 0);
    m.decideRun!('orders', { command: 'actionResult', outcome: 'appended', events: [completed], term: 3 });
    m.decideRun!('orders', { command: 'tick', outcome: 'failed', events: [], term: null });
    const docs = lines.map((l) => JSON.parse(l) as Emf);
    assert.deepEqual(docs.map((d) => d._aws.CloudWatchMetrics[0]!.Metrics[0]!.Name), ['FailoverCompleted', 'DecideFailed']);
    assert.deepEqual(docs.map((d) => d['cluster']), ['orders', 'orders']);
  });

  test('a completed failover publishes how long it took, in seconds; one from a log without its start time publishes no duration', () => {
    const lines: string[] = [];
    const m = emfMetrics('pgvigil-decide', (l) => lines.push(l));
    const base = { v: 1, term: 4, reason: 'endpoints moved', kind: 'failover', from: 'pg1', to: 'pg2' } as const;
    m.decideRun!('orders', { command: 'actionResult', outcome: 'appended', events: [{ ...base, type: 'FailoverCompleted', at: 10_000 + 3_250, startedAt: 10_000 }], term: 4 });
    const docs = lines.map((l) => JSON.parse(l) as Emf);
    const seconds = docs.find((d) => d['FailoverSeconds'] !== undefined)!;
    assert.equal(seconds['FailoverSeconds'], 3.25);
    assert.equal(seconds._aws.CloudWatchMetrics[0]!.Metrics[0]!.Unit, 'Seconds');
    assert.equal(seconds['cluster'], 'orders');
    lines.length = 0;
    m.decideRun!('orders', { command: 'actionResult', outcome: 'appended', events: [{ ...base, type: 'FailoverCompleted', at: 20_000 }], term: 4 });
    assert.deepEqual(lines.map((l) => Object.keys(JSON.parse(l) as Emf).filter((k) => k.startsWith('Failover'))), [['FailoverCompleted']]);
  });

  test('nothing is printed outside Lambda, or for a zero count', () => {
    const lines: string[] = [];
    const local = metricsForRuntime('pgvigil-probe', {}, (l) => lines.push(l));
    local.probesBlind('orders', 3);
    local.failoverStarted('orders', 1);
    assert.equal(lines.length, 0);
    const onLambda = metricsForRuntime('pgvigil-probe', { AWS_LAMBDA_FUNCTION_NAME: 'pgvigil-probe' }, (l) => lines.push(l));
    onLambda.probesBlind('orders', 0);
    assert.equal(lines.length, 0);
    onLambda.probesBlind('orders', 2);
    assert.equal(lines.length, 1);
  });

  test('on Lambda each document carries the deployment (the stack) as a dimension, which the alarms filter on', () => {
    const lines: string[] = [];
    const m = metricsForRuntime('pgvigil-probe', { AWS_LAMBDA_FUNCTION_NAME: 'f', PGVIGIL_DEPLOYMENT: 'PgVigil-staging' }, (l) => lines.push(l));
    m.probesBlind('orders', 1);
    const doc = JSON.parse(lines[0]!) as Emf;
    assert.equal(doc['deployment'], 'PgVigil-staging');
    assert.ok(doc._aws.CloudWatchMetrics[0]!.Dimensions[0]!.includes('deployment'));
  });
});
