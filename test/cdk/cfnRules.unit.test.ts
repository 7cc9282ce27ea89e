import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Template } from 'aws-cdk-lib/assertions';
import { fullProps, hostProps, resourcesOf, synthStack } from './stackFixture.ts';

/**
 * Rules the AWS services enforce when CloudFormation creates a resource, checked over every
 * resource of a type in the synthesized template (cfn-lint and the CDK do not catch these: the
 * ProbesBlind alarm with DatapointsToAlarm 2 > EvaluationPeriods 1 synthesized cleanly and would
 * have rolled back every deploy). Each rule names the document it was checked against.
 *
 * Not checked (no document found, or not decidable from the template): the 4 KB total of a
 * function's environment once tokens resolve (cdk/functions.ts bounds the spec part at synth);
 * whether Fn::GetAZs returns 3 zones in the target region; Metrics Insights query semantics
 * beyond the grammar below (a metric name the handlers never publish alarms on nothing);
 * interface endpoint service availability per AZ; IAM condition keys an action supports.
 */

type Props = Record<string, any>;
const isToken = (v: unknown) => typeof v === 'object' && v !== null;

const variants: Array<[string, Parameters<typeof synthStack>[0]]> = [
  ['demo (default context)', {}],
  ['demo with endpoints and alerts', fullProps],
  ['demo with database hosts', hostProps],
];

/** All violations of one rule over one template, as readable strings (empty: the rule holds). */
type Rule = (template: Template) => string[];

// --- CloudWatch alarms ----------------------------------------------------------------------

/**
 * PutMetricAlarm (CloudWatch API Reference): DatapointsToAlarm is the M of an "M out of N"
 * alarm, N being EvaluationPeriods; CloudWatch refuses M > N ("DatapointsToAlarm must be less
 * than or equal to EvaluationPeriods"). Period: "Valid values are 10, 20, 30, and any multiple
 * of 60"; Period × EvaluationPeriods at most 86,400 s when Period < 3,600 s, else 604,800 s.
 * With Metrics, the alarm carries no MetricName/Namespace/Dimensions/Period/Unit/Statistic/
 * ExtendedStatistic of its own (PutMetricAlarm, MetricName: "you cannot specify this parameter,
 * or any of …").
 */
const alarmEvaluation: Rule = (t) =>
  resourcesOf(t, 'AWS::CloudWatch::Alarm').flatMap(([id, p]) => {
    const out: string[] = [];
    const n = p.EvaluationPeriods as number;
    const m = (p.DatapointsToAlarm as number | undefined) ?? n;
    if (!Number.isInteger(n) || n < 1) out.push(`${id}: EvaluationPeriods ${n} is not a positive integer`);
    if (!Number.isInteger(m) || m < 1 || m > n) out.push(`${id}: DatapointsToAlarm ${m} must be 1..EvaluationPeriods (${n})`);
    const periods: number[] = p.Metrics ? (p.Metrics as Props[]).map((q) => q.Period ?? q.MetricStat?.Period).filter((x) => x !== undefined) : [p.Period];
    for (const period of periods) {
      if (!([10, 20, 30].includes(period) || (Number.isInteger(period) && period > 0 && period % 60 === 0))) out.push(`${id}: Period ${period} is not 10, 20, 30 or a multiple of 60`);
      const limit = period < 3600 ? 86_400 : 604_800;
      if (period * n > limit) out.push(`${id}: Period × EvaluationPeriods = ${period * n} s exceeds ${limit} s`);
    }
    if (p.Metrics) {
      for (const key of ['MetricName', 'Namespace', 'Statistic', 'ExtendedStatistic', 'Period', 'Dimensions', 'Unit']) {
        if (p[key] !== undefined) out.push(`${id}: Metrics and ${key} together`);
      }
    } else if (!p.MetricName || !p.Namespace || (p.Statistic === undefined && p.ExtendedStatistic === undefined)) {
      out.push(`${id}: a single-metric alarm needs MetricName, Namespace and a statistic`);
    }
    return out;
  });

/**
 * AWS::CloudWatch::Alarm MetricDataQuery and PutMetricAlarm: at most 20 queries (at most 10
 * MetricStat, at most 10 Expression); each has exactly one of Expression and MetricStat; Ids are
 * unique, start with a lowercase letter and hold letters, digits and underscores; exactly one
 * query has ReturnData true (it defaults to true when left out), and it is the value the alarm
 * watches. A math expression may only name Ids of the same alarm (Metric Math syntax, CloudWatch
 * User Guide). A Metrics Insights query is SELECT FUNCTION(metric) FROM namespace|SCHEMA(...)
 * with FUNCTION one of AVG, COUNT, MAX, MIN, SUM (Metrics Insights query components and syntax),
 * and an alarm on one evaluates only the latest 3 hours (CloudWatch User Guide, alarm limits:
 * "Only the latest 3 hours of data can be used for evaluating the alarm's conditions").
 */
const metricMath: Rule = (t) =>
  resourcesOf(t, 'AWS::CloudWatch::Alarm').flatMap(([id, p]) => {
    const queries = p.Metrics as Props[] | undefined;
    if (!queries) return [];
    const out: string[] = [];
    if (queries.length > 20) out.push(`${id}: ${queries.length} queries, at most 20`);
    if (queries.filter((q) => q.MetricStat).length > 10) out.push(`${id}: more than 10 MetricStat queries`);
    if (queries.filter((q) => q.Expression).length > 10) out.push(`${id}: more than 10 expressions`);
    const ids = queries.map((q) => q.Id as string);
    if (new Set(ids).size !== ids.length) out.push(`${id}: duplicate query Ids ${ids.join(', ')}`);
    for (const q of queries) {
      if (!/^[a-z][A-Za-z0-9_]*$/.test(q.Id)) out.push(`${id}: query Id "${q.Id}" must start with a lowercase letter (letters, digits, _)`);
      if ((q.Expression === undefined) === (q.MetricStat === undefined)) out.push(`${id}/${q.Id}: exactly one of Expression and MetricStat`);
      if (typeof q.Expression !== 'string') continue;
      if (/^\s*SELECT\b/i.test(q.Expression)) {
        const insights = /^SELECT (AVG|COUNT|MAX|MIN|SUM)\(("[^"]+"|[A-Za-z0-9_.\-]+)\) FROM ("[^"]+"|[A-Za-z0-9_.\-/]+|SCHEMA\([^)]*\))( WHERE .+?)?( GROUP BY .+?)?( ORDER BY .+?)?( LIMIT \d+)?$/;
        if (!insights.test(q.Expression)) out.push(`${id}/${q.Id}: not a Metrics Insights query: ${q.Expression}`);
        if (q.Period === undefined) out.push(`${id}/${q.Id}: a Metrics Insights query in an alarm needs its Period`);
        else if (q.Period * p.EvaluationPeriods > 3 * 3600) out.push(`${id}: Metrics Insights alarm looks back ${q.Period * p.EvaluationPeriods} s, over the 3 hours it can evaluate`);
      } else {
        // Lowercase names not followed by "(" are references (functions are upper case: SUM(), METRICS()).
        const refs = [...q.Expression.replace(/"[^"]*"|'[^']*'/g, '').matchAll(/\b([a-z][A-Za-z0-9_]*)\b(?!\s*\()/g)].map((r) => r[1]!);
        for (const ref of refs) if (!ids.includes(ref)) out.push(`${id}/${q.Id}: expression names "${ref}", which is no query of this alarm`);
        if (refs.includes(q.Id)) out.push(`${id}/${q.Id}: expression names itself`);
      }
    }
    const returned = queries.filter((q) => q.ReturnData !== false);
    if (returned.length !== 1) out.push(`${id}: ${returned.length} queries return data, exactly one must (${returned.map((q) => q.Id).join(', ')})`);
    return out;
  });

// --- Lambda and its event sources -----------------------------------------------------------

/** AWS::Lambda::Function: Timeout 1..900 s ("Configure Lambda function timeout"), MemorySize 128..10,240 MB (Lambda quotas). */
const functionLimits: Rule = (t) =>
  resourcesOf(t, 'AWS::Lambda::Function').flatMap(([id, p]) => {
    const out: string[] = [];
    const timeout = p.Timeout ?? 3;
    const memory = p.MemorySize ?? 128;
    if (!(Number.isInteger(timeout) && timeout >= 1 && timeout <= 900)) out.push(`${id}: Timeout ${timeout} outside 1..900 s`);
    if (!(Number.isInteger(memory) && memory >= 128 && memory <= 10_240)) out.push(`${id}: MemorySize ${memory} outside 128..10240 MB`);
    return out;
  });

function logicalIdOf(ref: unknown): string | undefined {
  if (!isToken(ref)) return undefined;
  const r = ref as Props;
  return r.Ref ?? r['Fn::GetAtt']?.[0];
}

/**
 * DynamoDB stream event source mappings, Lambda Developer Guide "Lambda parameters for Amazon
 * DynamoDB event source mappings": BatchSize ≤ 10,000; MaximumRecordAgeInSeconds -1 (infinite)
 * or 60..604,800 (the CreateEventSourceMapping API's range; values above DynamoDB Streams' 24-hour
 * retention never take effect, so they are refused here too); MaximumRetryAttempts -1 or
 * 0..10,000; ParallelizationFactor 1..10; MaximumBatchingWindowInSeconds 0..300;
 * TumblingWindowInSeconds 0..900; StartingPosition TRIM_HORIZON or LATEST; FunctionResponseTypes
 * only ReportBatchItemFailures; the on-failure destination a standard SQS queue or SNS topic
 * (not FIFO). Filter patterns are JSON, at most 5 per mapping by default (Lambda Developer Guide,
 * "Control which events Lambda sends to your function": up to 10 on request). DynamoDB Streams:
 * "More than 2 processes are reading from the same streams shard at the same time. Exceeding this
 * limit may result in request throttling" (LimitExceededException), so at most 2 mappings per stream.
 * Our own consistency rule, from the same page's retry semantics: the configured retries fit
 * in MaximumRecordAge ((retries + 1) × function timeout ≤ age), or they never all run.
 */
const streamMappings: Rule = (t) => {
  const all = t.toJSON().Resources as Record<string, { Type: string; Properties?: Props }>;
  const mappings = resourcesOf(t, 'AWS::Lambda::EventSourceMapping').filter(([, p]) => JSON.stringify(p.EventSourceArn).includes('StreamArn'));
  const out: string[] = [];
  const perStream = new Map<string, number>();
  for (const [id, p] of mappings) {
    const stream = JSON.stringify(p.EventSourceArn);
    perStream.set(stream, (perStream.get(stream) ?? 0) + 1);
    const batch = p.BatchSize ?? 100;
    if (!(batch >= 1 && batch <= 10_000)) out.push(`${id}: BatchSize ${batch} outside 1..10000`);
    const age = p.MaximumRecordAgeInSeconds ?? -1;
    if (!(age === -1 || (age >= 60 && age <= 86_400))) out.push(`${id}: MaximumRecordAgeInSeconds ${age}: -1 or 60..86400 (the stream keeps records 24 h)`);
    const retries = p.MaximumRetryAttempts ?? -1;
    if (!(retries === -1 || (Number.isInteger(retries) && retries >= 0 && retries <= 10_000))) out.push(`${id}: MaximumRetryAttempts ${retries}: -1 or 0..10000`);
    const parallel = p.ParallelizationFactor ?? 1;
    if (!(parallel >= 1 && parallel <= 10)) out.push(`${id}: ParallelizationFactor ${parallel} outside 1..10`);
    const window = p.MaximumBatchingWindowInSeconds ?? 0;
    if (!(window >= 0 && window <= 300)) out.push(`${id}: MaximumBatchingWindowInSeconds ${window} outside 0..300`);
    if (p.TumblingWindowInSeconds !== undefined && !(p.TumblingWindowInSeconds >= 0 && p.TumblingWindowInSeconds <= 900)) out.push(`${id}: TumblingWindowInSeconds outside 0..900`);
    if (!['TRIM_HORIZON', 'LATEST'].includes(p.StartingPosition)) out.push(`${id}: StartingPosition ${p.StartingPosition} is not TRIM_HORIZON or LATEST`);
    for (const type of p.FunctionResponseTypes ?? []) if (type !== 'ReportBatchItemFailures') out.push(`${id}: FunctionResponseTypes ${type}`);
    const filters = (p.FilterCriteria?.Filters ?? []) as Array<{ Pattern: string }>;
    if (filters.length > 5) out.push(`${id}: ${filters.length} filters, at most 5`);
    for (const f of filters) {
      try {
        JSON.parse(f.Pattern);
      } catch {
        out.push(`${id}: filter pattern is not JSON: ${f.Pattern}`);
      }
    }
    const destination = logicalIdOf(p.DestinationConfig?.OnFailure?.Destination);
    if (p.DestinationConfig?.OnFailure) {
      const target = destination ? all[destination] : undefined;
      if (!target || !['AWS::SQS::Queue', 'AWS::SNS::Topic'].includes(target.Type)) out.push(`${id}: on-failure destination is no SQS queue or SNS topic of this stack`);
      else if (target.Properties?.FifoQueue === true || target.Properties?.FifoTopic === true) out.push(`${id}: on-failure destination is FIFO`);
    }
    const fn = all[logicalIdOf(p.FunctionName) ?? ''];
    const timeout = fn?.Properties?.Timeout ?? 3;
    if (age !== -1 && retries !== -1 && (retries + 1) * timeout > age) out.push(`${id}: ${retries + 1} tries of ${timeout} s do not fit in MaximumRecordAge ${age} s`);
  }
  for (const [stream, n] of perStream) if (n > 2) out.push(`${stream}: ${n} readers, DynamoDB Streams advises at most 2 per shard`);
  return out;
};

/**
 * SQS event source mappings: Lambda refuses a queue whose visibility timeout is shorter than the
 * function's timeout ("Queue visibility timeout: 30 seconds is less than Function timeout",
 * CreateEventSourceMapping; Lambda Developer Guide, "Using Lambda with Amazon SQS" advises 6 ×).
 * The stack has no SQS trigger today (its queue is only an on-failure destination), so this
 * holds vacuously until one is added.
 */
const sqsMappings: Rule = (t) => {
  const all = t.toJSON().Resources as Record<string, { Type: string; Properties?: Props }>;
  return resourcesOf(t, 'AWS::Lambda::EventSourceMapping').flatMap(([id, p]) => {
    const source = all[logicalIdOf(p.EventSourceArn) ?? ''];
    if (source?.Type !== 'AWS::SQS::Queue') return [];
    const visibility = source.Properties?.VisibilityTimeout ?? 30;
    const timeout = all[logicalIdOf(p.FunctionName) ?? '']?.Properties?.Timeout ?? 3;
    return visibility < timeout ? [`${id}: queue visibility ${visibility} s < function timeout ${timeout} s`] : [];
  });
};

// --- EventBridge ----------------------------------------------------------------------------

/**
 * EventBridge User Guide, "Rate expressions reference": rate(value unit), value a positive
 * integer, unit minute|hour|day when the value is 1 and minutes|hours|days otherwise. "Cron
 * expressions reference": six fields (minutes hours day-of-month month day-of-week year), and
 * day-of-month and day-of-week cannot both be given: one of them must be "?".
 */
export function scheduleErrors(expression: string): string[] {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2]!;
    if (value < 1) return [`${expression}: the value must be positive`];
    if ((value === 1) !== !unit.endsWith('s')) return [`${expression}: unit must be singular for 1 and plural otherwise`];
    return [];
  }
  const cron = /^cron\((.+)\)$/.exec(expression);
  if (!cron) return [`${expression}: neither rate(...) nor cron(...)`];
  const fields = cron[1]!.split(' ');
  if (fields.length !== 6) return [`${expression}: ${fields.length} fields, cron takes 6`];
  const [minutes, hours, dom, , dow] = fields as [string, string, string, string, string, string];
  const errors: string[] = [];
  if ((dom === '?') === (dow === '?')) errors.push(`${expression}: exactly one of day-of-month and day-of-week must be "?"`);
  const inRange = (f: string, lo: number, hi: number) => f === '*' || f.split(',').every((part) => part.split(/[-/]/).every((n) => n === '*' || (/^\d+$/.test(n) && +n >= lo && +n <= hi)));
  if (!inRange(minutes, 0, 59)) errors.push(`${expression}: minutes ${minutes} outside 0-59`);
  if (!inRange(hours, 0, 23)) errors.push(`${expression}: hours ${hours} outside 0-23`);
  return errors;
}

/**
 * AWS::Events::Rule: RetryPolicy MaximumEventAgeInSeconds 60..86,400 and MaximumRetryAttempts
 * 0..185 (AWS::Events::Rule RetryPolicy, and the EventBridge API's RetryPolicy). At most 5
 * targets per rule and unique target Ids: from memory of the EventBridge quotas page; the stored
 * copies of that page did not show the row, so this one is unchecked.
 */
const eventRules: Rule = (t) =>
  resourcesOf(t, 'AWS::Events::Rule').flatMap(([id, p]) => {
    const out = p.ScheduleExpression ? scheduleErrors(p.ScheduleExpression).map((e) => `${id}: ${e}`) : [];
    const targets = (p.Targets ?? []) as Props[];
    if (targets.length > 5) out.push(`${id}: ${targets.length} targets, at most 5`);
    const ids = targets.map((x) => x.Id);
    if (new Set(ids).size !== ids.length) out.push(`${id}: duplicate target Ids`);
    for (const target of targets) {
      const age = target.RetryPolicy?.MaximumEventAgeInSeconds;
      const tries = target.RetryPolicy?.MaximumRetryAttempts;
      if (age !== undefined && !(age >= 60 && age <= 86_400)) out.push(`${id}/${target.Id}: MaximumEventAgeInSeconds ${age} outside 60..86400`);
      if (tries !== undefined && !(tries >= 0 && tries <= 185)) out.push(`${id}/${target.Id}: MaximumRetryAttempts ${tries} outside 0..185`);
    }
    return out;
  });

// --- VPC endpoints --------------------------------------------------------------------------

/**
 * AWS::EC2::VPCEndpoint: a Gateway endpoint (S3 and DynamoDB only, VPC User Guide "Gateway VPC
 * endpoints") takes RouteTableIds and no subnets, security groups or private DNS; PrivateDnsEnabled
 * needs "the following VPC attributes [set] to true: enableDnsHostnames and enableDnsSupport"
 * (CfnVPCEndpoint PrivateDnsEnabled). Checked less firmly: an interface endpoint takes at most one
 * subnet per Availability Zone (CDK InterfaceVpcEndpointOptions.subnets, text cut in the stored
 * copy; the PrivateLink guide says the same from memory), and one gateway endpoint per service per
 * route table (a route table holds one route per prefix list).
 */
const vpcEndpoints: Rule = (t) => {
  const all = t.toJSON().Resources as Record<string, { Type: string; Properties?: Props }>;
  const out: string[] = [];
  const gatewayRoutes = new Set<string>();
  for (const [id, p] of resourcesOf(t, 'AWS::EC2::VPCEndpoint')) {
    const service = JSON.stringify(p.ServiceName);
    const type = p.VpcEndpointType ?? 'Gateway';
    if (type === 'Gateway') {
      if (!/\.(s3|dynamodb)"/.test(service)) out.push(`${id}: a gateway endpoint for ${service}: only S3 and DynamoDB have them`);
      if (p.SubnetIds || p.SecurityGroupIds || p.PrivateDnsEnabled !== undefined) out.push(`${id}: a gateway endpoint takes no subnets, security groups or private DNS`);
      if (!p.RouteTableIds?.length) out.push(`${id}: a gateway endpoint with no route table does nothing`);
      for (const table of p.RouteTableIds ?? []) {
        const key = `${service}|${JSON.stringify(table)}`;
        if (gatewayRoutes.has(key)) out.push(`${id}: a second ${service} gateway endpoint on route table ${JSON.stringify(table)}`);
        gatewayRoutes.add(key);
      }
    } else if (type === 'Interface') {
      if (p.RouteTableIds) out.push(`${id}: an interface endpoint takes no route tables`);
      const zones = (p.SubnetIds ?? []).map((s: unknown) => JSON.stringify(all[logicalIdOf(s) ?? '']?.Properties?.AvailabilityZone ?? s));
      if (new Set(zones).size !== zones.length) out.push(`${id}: two subnets in one Availability Zone`);
      if (p.PrivateDnsEnabled === true) {
        const vpc = all[logicalIdOf(p.VpcId) ?? ''];
        if (vpc && !(vpc.Properties?.EnableDnsHostnames === true && vpc.Properties?.EnableDnsSupport === true)) out.push(`${id}: private DNS in a VPC without DNS hostnames and support`);
      }
    }
  }
  return out;
};

/**
 * Template Outputs (CloudFormation User Guide, "CloudFormation template Outputs syntax"): at most
 * 200 outputs, logical ids alphanumeric; a Description of at most 1,024 characters
 * (AWS::CloudFormation::Stack Output, Description maximum 1024).
 */
const outputs: Rule = (t) => {
  const all = Object.entries<{ Description?: string }>(t.toJSON().Outputs ?? {});
  const out = all.length > 200 ? [`${all.length} outputs, at most 200`] : [];
  for (const [id, o] of all) {
    if (!/^[A-Za-z0-9]+$/.test(id)) out.push(`output ${id}: logical id not alphanumeric`);
    if (o.Description !== undefined && o.Description.length > 1024) out.push(`output ${id}: description of ${o.Description.length} characters, at most 1024`);
  }
  return out;
};

const rules: Array<[string, Rule]> = [
  ['every alarm: DatapointsToAlarm ≤ EvaluationPeriods, valid periods and evaluation range', alarmEvaluation],
  ['every alarm query: well-formed Ids, one ReturnData, references that exist, Metrics Insights grammar and look-back', metricMath],
  ['every function: timeout and memory within Lambda limits', functionLimits],
  ['every DynamoDB stream mapping: batch, bisect/retry/record-age, parallelization, filters, destination, readers per stream', streamMappings],
  ['every SQS mapping: queue visibility timeout ≥ function timeout', sqsMappings],
  ['every EventBridge rule: valid schedule expression, targets and retry policy', eventRules],
  ['every VPC endpoint: options valid for its type', vpcEndpoints],
  ['outputs: count, ids, description length', outputs],
];

for (const [label, props] of variants) {
  describe(`CloudFormation rules: ${label}`, () => {
    const { template } = synthStack(props);
    for (const [name, rule] of rules) test(name, () => assert.deepEqual(rule(template), []));
  });
}

describe('the rules themselves catch what they are for', () => {
  const alarm = (p: Props) => ({ toJSON: () => ({ Resources: { A: { Type: 'AWS::CloudWatch::Alarm', Properties: p } } }) }) as unknown as Template;
  const insights = { Expression: 'SELECT SUM(ProbesBlind) FROM pgvigil', Id: 'expr_1', Period: 60, ReturnData: true };

  test('the ProbesBlind shape as it was (EvaluationPeriods 1, DatapointsToAlarm 2) is refused', () => {
    assert.deepEqual(alarmEvaluation(alarm({ EvaluationPeriods: 1, DatapointsToAlarm: 2, Metrics: [insights] })), ['A: DatapointsToAlarm 2 must be 1..EvaluationPeriods (1)']);
  });

  test('metric math: a missing reference, two returned series, an upper-case Id, a bad query', () => {
    const errors = metricMath(
      alarm({
        EvaluationPeriods: 1,
        Metrics: [
          { Id: 'e1', Expression: 'm1 + m2', ReturnData: true },
          { Id: 'm1', MetricStat: { Period: 60 } },
          { Id: 'Q', Expression: 'SELECT SUM(x) FORM y', Period: 60 },
        ],
      }),
    );
    assert.ok(errors.some((e) => e.includes('"m2", which is no query')));
    assert.ok(errors.some((e) => e.includes('3 queries return data')));
    assert.ok(errors.some((e) => e.includes('query Id "Q"')));
    assert.ok(errors.some((e) => e.includes('not a Metrics Insights query')));
  });

  test('schedule expressions', () => {
    assert.deepEqual(scheduleErrors('rate(1 minute)'), []);
    assert.deepEqual(scheduleErrors('rate(5 minutes)'), []);
    assert.deepEqual(scheduleErrors('cron(0 3 * * ? *)'), []);
    assert.equal(scheduleErrors('rate(1 minutes)').length, 1);
    assert.equal(scheduleErrors('rate(5 minute)').length, 1);
    assert.equal(scheduleErrors('cron(0 3 * * * *)').length, 1, 'both day fields given');
    assert.equal(scheduleErrors('cron(0 3 * *)').length, 1, 'four fields');
    assert.equal(scheduleErrors('every minute').length, 1);
  });
});
