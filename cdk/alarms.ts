import { Construct } from 'constructs';
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { PgVigilFunctions } from './functions.ts';

/** The namespace the handlers publish to (POWERTOOLS_METRICS_NAMESPACE). */
export const metricsNamespace = 'pgvigil';

/** The store operations the handlers and agents make: the ones whose system errors are alarmed. */
export const storeOperations = [dynamodb.Operation.PUT_ITEM, dynamodb.Operation.GET_ITEM, dynamodb.Operation.QUERY];

/** Minutes without a probe (or decide) invocation after which the control plane counts as stopped. */
export const deadManMinutes = 3;
/** decide's stream lag (IteratorAge, ms) that is news: a failover waits on it. */
export const iteratorAgeAlarmMs = 5_000;

export interface AlarmsProps {
  functions: PgVigilFunctions;
  table: dynamodb.Table;
  topic: sns.ITopic;
  /** The deployment dimension the handlers' metrics carry (PGVIGIL_DEPLOYMENT): this stack's own. */
  deployment: string;
  /** A CloudWatch dashboard too (3 USD a month beyond an account's first three). */
  dashboard: boolean;
  /** false: nothing is scheduled (the demo without hosts), so the dead-man alarms are left out. */
  watching: boolean;
}

/** What an alarm is for: the kind is what the cost bench prices (metrics in the alarm, or a Metrics Insights query). */
export type AlarmKind = 'metric' | 'insights';
export interface AlarmSpec {
  name: string;
  metric: cloudwatch.IMetric;
  description: string;
  threshold: number;
  comparison: cloudwatch.ComparisonOperator;
  evaluationPeriods: number;
  datapoints: number;
  /** BREACHING for the dead-man alarms: no data is the news. */
  missing: cloudwatch.TreatMissingData;
  kind: AlarmKind;
  /** How many metrics the alarm reads (CloudWatch bills standard alarms per metric). */
  metrics: number;
}

/**
 * Alarms to the alert topic, and optionally one dashboard. The handlers' own metrics are read
 * with Metrics Insights, summed over whatever dimensions they carry but only this deployment's,
 * so a new dimension never silences an alarm and another stack never trips it. AWS/Lambda and
 * AWS/DynamoDB metrics are this stack's by their FunctionName and TableName.
 */
export class PgVigilAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[];
  readonly specs: AlarmSpec[];
  readonly dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const { probe, decide, notify, streamFailures } = props.functions;
    const minute = Duration.minutes(1);
    if (!/^[A-Za-z0-9-]+$/.test(props.deployment)) throw new Error(`PgVigil alarms: deployment "${props.deployment}": letters, digits and dashes only (it is quoted in a query)`);
    const ours = (name: string, label: string) =>
      new cloudwatch.MathExpression({ expression: `SELECT SUM(${name}) FROM ${metricsNamespace} WHERE deployment = '${props.deployment}'`, period: minute, label });
    const probesBlind = ours('ProbesBlind', 'probe rounds that saw no node');
    const failoverStarted = ours('FailoverStarted', 'failovers started');
    const fns: lambda.IFunction[] = [probe, decide, notify];
    const sumOf = (metrics: cloudwatch.IMetric[], label: string) =>
      new cloudwatch.MathExpression({ expression: metrics.map((_, i) => `m${i}`).join(' + '), usingMetrics: Object.fromEntries(metrics.map((m, i) => [`m${i}`, m])), period: minute, label });
    const atLeastOne = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
    const quiet = cloudwatch.TreatMissingData.NOT_BREACHING;
    const count = (name: string, metric: cloudwatch.IMetric, description: string, evaluationPeriods: number, datapoints: number, kind: AlarmKind = 'metric', metrics = 1): AlarmSpec => ({
      name, metric, description, threshold: 1, comparison: atLeastOne, evaluationPeriods, datapoints, missing: quiet, kind, metrics,
    });
    const silent = (name: string, fn: lambda.IFunction, description: string): AlarmSpec => ({
      name,
      metric: fn.metricInvocations({ period: minute, statistic: 'Sum' }),
      description,
      threshold: 1,
      comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: deadManMinutes,
      datapoints: deadManMinutes,
      // The point of a dead-man alarm: a stopped schedule publishes nothing, and nothing is the alarm.
      missing: cloudwatch.TreatMissingData.BREACHING,
      kind: 'metric',
      metrics: 1,
    });
    const throttles = fns.map((f) => f.metricThrottles({ period: minute }));
    const storeThrottles = [props.table.metric('ReadThrottleEvents', { period: minute, statistic: 'Sum' }), props.table.metric('WriteThrottleEvents', { period: minute, statistic: 'Sum' })];
    const storeErrors = storeOperations.map((operation) => props.table.metric('SystemErrors', { period: minute, statistic: 'Sum', dimensionsMap: { TableName: props.table.tableName, Operation: operation } }));

    this.specs = [
      count('DecideErrors', decide.metricErrors({ period: minute }), 'decide failed: failovers and operator commands may be stalled', 1, 1),
      count('ProbeErrors', probe.metricErrors({ period: minute }), 'probe failed for 3 minutes: the control plane sees nothing', 3, 3),
      // 2 of 3 minutes: one blind minute (a probe invocation's gap at the minute boundary) is not yet news.
      count('ProbesBlind', probesBlind, 'the control plane is blind to a cluster: it will not fail over', 3, 2, 'insights'),
      count('FailoverStarted', failoverStarted, 'a failover has started', 1, 1, 'insights'),
      count('StreamFailures', streamFailures.metricApproximateNumberOfMessagesVisible({ period: minute }), 'stream records were dropped to the failure queue', 1, 1),
      ...(props.watching ? [silent('ProbeStopped', probe, `no probe ran for ${deadManMinutes} minutes (schedule disabled, throttled, or Lambda or EventBridge impaired): nothing watches the databases`),
      silent('DecideStopped', decide, `decide did not run for ${deadManMinutes} minutes (its tick runs every minute): no failover can happen`)] : []),
      {
        name: 'DecideIteratorAge',
        metric: decide.metric('IteratorAge', { period: minute, statistic: 'Maximum' }),
        description: `decide reads the stream more than ${iteratorAgeAlarmMs / 1000} s late: failovers wait by as much`,
        threshold: iteratorAgeAlarmMs,
        comparison: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 2,
        datapoints: 2,
        missing: quiet,
        kind: 'metric',
        metrics: 1,
      },
      count('LambdaThrottles', sumOf(throttles, 'throttled invocations'), 'a pgvigil function was throttled (account concurrency?): probes or decisions were skipped', 1, 1, 'metric', throttles.length),
      count('StoreThrottles', sumOf(storeThrottles, 'throttled store requests'), 'the store throttled requests: observations, decisions or lease renewals were refused', 1, 1, 'metric', storeThrottles.length),
      count('StoreErrors', sumOf(storeErrors, 'store system errors'), 'DynamoDB answered with system errors: the control plane or the leases may fail', 1, 1, 'metric', storeErrors.length),
    ];

    const action = new SnsAction(props.topic);
    this.alarms = this.specs.map((spec) => {
      // PutMetricAlarm refuses DatapointsToAlarm > EvaluationPeriods, and the deploy rolls back.
      if (spec.datapoints < 1 || spec.datapoints > spec.evaluationPeriods) {
        throw new Error(`PgVigil alarms: ${spec.name}: datapointsToAlarm ${spec.datapoints} must be between 1 and evaluationPeriods ${spec.evaluationPeriods}`);
      }
      const alarm = new cloudwatch.Alarm(this, spec.name, {
        metric: spec.metric,
        alarmDescription: `pgvigil: ${spec.description}`,
        threshold: spec.threshold,
        comparisonOperator: spec.comparison,
        evaluationPeriods: spec.evaluationPeriods,
        datapointsToAlarm: spec.datapoints,
        treatMissingData: spec.missing,
      });
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      return alarm;
    });

    if (!props.dashboard) return;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'pgvigil alarms', alarms: this.alarms, width: 24, height: 3 }));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Failovers and blindness', left: [failoverStarted, probesBlind], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Invocations', left: fns.map((f) => f.metricInvocations({ period: minute })), width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Errors', left: fns.map((f) => f.metricErrors({ period: minute })), width: 8 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Duration (p99)', left: fns.map((f) => f.metricDuration({ period: minute, statistic: 'p99' })), width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'Store consumed capacity',
        left: [props.table.metricConsumedWriteCapacityUnits({ period: minute }), props.table.metricConsumedReadCapacityUnits({ period: minute })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({ title: 'Stream failure queue', left: [streamFailures.metricApproximateNumberOfMessagesVisible({ period: minute })], width: 8 }),
    );
    // From the decision to fail over to the endpoints moved (README, metrics): the longest of each minute.
    const failoverSeconds = new cloudwatch.MathExpression({ expression: `SELECT MAX(FailoverSeconds) FROM ${metricsNamespace} WHERE deployment = '${props.deployment}'`, period: minute, label: 'failover duration (s)' });
    this.dashboard.addWidgets(new cloudwatch.GraphWidget({ title: 'Failover duration (s, longest per minute)', left: [failoverSeconds], width: 8 }));
  }
}
