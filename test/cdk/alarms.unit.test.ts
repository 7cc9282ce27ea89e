import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fullProps, hostProps, resourcesOf, synthStack } from './stackFixture.ts';

/** Alarms that fire when it matters: a stopped control plane, a late stream, throttles, store errors; each stack its own. */
describe('alarms', () => {
  const { template } = synthStack(hostProps);
  const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm');
  const byName = (name: string) => {
    const found = alarms.find(([id]) => id.includes(`Alarms${name}`));
    assert.ok(found, `alarm ${name}`);
    return found[1];
  };
  const fnRef = (service: string) => resourcesOf(template, 'AWS::Lambda::Function').find(([, p]) => p.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === `pgvigil-${service}`)![0];

  test('every alarm goes to the alert topic, and tells when it is over', () => {
    const topicId = resourcesOf(template, 'AWS::SNS::Topic')[0]![0];
    assert.equal(alarms.length, 11);
    for (const [id, p] of alarms) {
      assert.deepEqual(p.AlarmActions, [{ Ref: topicId }], id);
      assert.deepEqual(p.OKActions, [{ Ref: topicId }], id);
      assert.ok(p.DatapointsToAlarm <= p.EvaluationPeriods, `${id}: CloudWatch refuses DatapointsToAlarm > EvaluationPeriods`);
    }
  });

  test('dead-man: no probe, or no decide, invocation for 3 minutes is breaching, missing data included', () => {
    for (const [name, fn] of [['ProbeStopped', 'probe'], ['DecideStopped', 'decide']] as const) {
      const p = byName(name);
      assert.equal(p.MetricName, 'Invocations');
      assert.deepEqual(p.Dimensions, [{ Name: 'FunctionName', Value: { Ref: fnRef(fn) } }]);
      assert.equal(p.ComparisonOperator, 'LessThanThreshold');
      assert.equal(p.Threshold, 1);
      assert.equal(p.TreatMissingData, 'breaching');
      assert.equal(p.EvaluationPeriods, 3);
    }
  });

  test('the demo without hosts, which schedules nothing, has no dead-man alarm to trip', () => {
    const demo = resourcesOf(synthStack(fullProps).template, 'AWS::CloudWatch::Alarm').map(([id]) => id);
    assert.equal(demo.some((id) => /Stopped/.test(id)), false);
    assert.equal(demo.length, 9);
  });

  test('decide\'s stream lag over 5 s, any Lambda throttle, DynamoDB throttles and system errors', () => {
    const age = byName('DecideIteratorAge');
    assert.deepEqual([age.MetricName, age.Statistic, age.Threshold, age.ComparisonOperator], ['IteratorAge', 'Maximum', 5000, 'GreaterThanThreshold']);
    assert.deepEqual(age.Dimensions, [{ Name: 'FunctionName', Value: { Ref: fnRef('decide') } }]);
    const metricsOf = (p: any) => (p.Metrics as any[]).filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric.MetricName);
    assert.deepEqual([...new Set(metricsOf(byName('LambdaThrottles')))], ['Throttles']);
    assert.equal(metricsOf(byName('LambdaThrottles')).length, 3);
    assert.deepEqual(metricsOf(byName('StoreThrottles')).sort(), ['ReadThrottleEvents', 'WriteThrottleEvents']);
    const errors = (byName('StoreErrors').Metrics as any[]).filter((m) => m.MetricStat);
    assert.deepEqual(errors.map((m) => m.MetricStat.Metric.Dimensions.find((d: any) => d.Name === 'Operation').Value).sort(), ['GetItem', 'PutItem', 'Query']);
  });

  test('the handlers\' metrics are counted for this deployment only: another stack in the account never trips them', () => {
    const expressions = alarms.flatMap(([, p]) => (p.Metrics ?? []).map((m: { Expression?: string }) => m.Expression)).filter((e): e is string => e?.startsWith('SELECT') ?? false);
    assert.deepEqual(expressions.sort(), ["SELECT SUM(FailoverStarted) FROM pgvigil WHERE deployment = 'PgVigilTest'", "SELECT SUM(ProbesBlind) FROM pgvigil WHERE deployment = 'PgVigilTest'"]);
    for (const [id, p] of resourcesOf(template, 'AWS::Lambda::Function').filter(([, q]) => q.Environment?.Variables?.POWERTOOLS_SERVICE_NAME)) {
      assert.equal(p.Environment.Variables.PGVIGIL_DEPLOYMENT, 'PgVigilTest', `${id} tags its metrics`);
    }
  });

  test('the dashboard is an option, off by default', () => {
    assert.equal(resourcesOf(template, 'AWS::CloudWatch::Dashboard').length, 0);
    const dashboards = resourcesOf(synthStack({ ...hostProps, dashboard: true }).template, 'AWS::CloudWatch::Dashboard');
    assert.equal(dashboards.length, 1);
    // It graphs the failover duration the handlers publish, for this stack only.
    assert.ok(JSON.stringify(dashboards[0]![1].DashboardBody).includes("SELECT MAX(FailoverSeconds) FROM pgvigil WHERE deployment = 'PgVigilTest'"));
  });
});
