import { Construct } from 'constructs';
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { PgVigilFunctions } from './functions.ts';

/** The namespace the handlers publish to (POWERTOOLS_METRICS_NAMESPACE). */
export const metricsNamespace = 'pgvigil';

/**
 * A metric the handlers publish, summed over whatever dimensions they carry (service,
 * cluster, node): a Metrics Insights query, so a new dimension never silences an alarm.
 */
function pgvigilMetric(name: string, label: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({ expression: `SELECT SUM(${name}) FROM ${metricsNamespace}`, period: Duration.minutes(1), label });
}

export interface AlarmsProps {
  functions: PgVigilFunctions;
  table: dynamodb.Table;
  topic: sns.ITopic;
}

/** Alarms to the alert topic, and one dashboard for the control plane. */
export class PgVigilAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const { probe, decide, notify, streamFailures } = props.functions;
    const minute = Duration.minutes(1);
    const probesBlind = pgvigilMetric('ProbesBlind', 'probe rounds that saw no node');
    const failoverStarted = pgvigilMetric('FailoverStarted', 'failovers started');

    const specs: Array<[string, cloudwatch.IMetric, string, number, number]> = [
      ['DecideErrors', decide.metricErrors({ period: minute }), 'decide failed: failovers and operator commands may be stalled', 1, 1],
      ['ProbeErrors', probe.metricErrors({ period: minute }), 'probe failed for 3 minutes: the control plane sees nothing', 3, 3],
      // 2 of 3 minutes: one blind minute (a probe invocation's gap at the minute boundary) is not yet news.
      ['ProbesBlind', probesBlind, 'the control plane is blind to a cluster: it will not fail over', 3, 2],
      ['FailoverStarted', failoverStarted, 'a failover has started', 1, 1],
      ['StreamFailures', streamFailures.metricApproximateNumberOfMessagesVisible({ period: minute }), 'stream records were dropped to the failure queue', 1, 1],
    ];
    const action = new SnsAction(props.topic);
    this.alarms = specs.map(([name, metric, description, evaluationPeriods, datapoints]) => {
      // PutMetricAlarm refuses DatapointsToAlarm > EvaluationPeriods, and the deploy rolls back.
      if (datapoints < 1 || datapoints > evaluationPeriods) throw new Error(`PgVigil alarms: ${name}: datapointsToAlarm ${datapoints} must be between 1 and evaluationPeriods ${evaluationPeriods}`);
      const alarm = new cloudwatch.Alarm(this, name, {
        metric,
        alarmDescription: `pgvigil: ${description}`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods,
        datapointsToAlarm: datapoints,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      return alarm;
    });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    const fns = [probe, decide, notify];
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'pgvigil alarms', alarms: this.alarms, width: 24, height: 3 }),
    );
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
  }
}
