import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { emfMetrics, metricsForRuntime } from '../../lib/control/controlMetrics.ts';

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
});
