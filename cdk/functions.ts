import { Construct } from 'constructs';
import { ArnFormat, Duration, Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { PgVigilAgentKeys } from './agentKeys.ts';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { handlerEntries, lambdaBundling, repoRoot, type HandlerName } from './bundling.ts';
import type { PgVigilNetwork } from './network.ts';
import type { WriterReaderZone } from './zone.ts';
import { LambdaVpcAccess } from './lambdaVpcAccess.ts';
import { ACT_TIMEOUT_MS, DECIDE_TIMEOUT_MS } from '../lib/control/actTiming.ts';
import { OBSERVATION_PREFIX, WAKE_PREFIX } from '../lib/store/sortKeys.ts';

/** Memory of every handler; the cost benchmark bills GB-seconds at this size. */
export const lambdaMemoryMb = 256;
/** The probe only waits on sockets; with the always-on cadence its memory was most of the bill. */
export const probeMemoryMb = 128;
/** The item kinds whose stream records wake decide (see the event source below): observations, and with the on-wake probe agents' wakes. */
export function decideStreamPrefixes(cadence: ProbeCadence): string[] {
  return cadence === 'on-wake' ? [OBSERVATION_PREFIX, WAKE_PREFIX] : [OBSERVATION_PREFIX];
}

/** How the probe runs (lib/control/lambdaEnv.ts PGVIGIL_PROBE_CADENCE). */
export type ProbeCadence = 'always' | 'on-wake';

/** probe loops for just under a minute and stops ~5 s before this. */
export const probeTimeout = Duration.seconds(70);

export interface FunctionsProps {
  network: PgVigilNetwork;
  table: dynamodb.Table;
  topic: sns.Topic;
  /** Each node's agent key; act and decide sign with them (cdk/agentKeys.ts). */
  agentKeys: PgVigilAgentKeys;
  /** The validated cluster specs, as JSON (PGVIGIL_CLUSTERS). */
  clustersJson: string;
  zone?: WriterReaderZone;
  /** notify also puts each decision event on the default EventBridge bus (default true). */
  decisionEvents?: boolean;
  /** false: the probe and tick schedules are deployed disabled (nothing to watch yet). Default true. */
  schedulesEnabled?: boolean;
  /** 'on-wake': the probe runs once a minute until settled and when decide starts it for a wake or a command. */
  probeCadence: ProbeCadence;
  /** Each handler's reserved concurrency (cdk/reservedConcurrency.ts); absent: none, the account's shared pool. */
  reservedConcurrency?: Record<HandlerName, number>;
}

/** decide decides and appends in well under a second; it never waits on an agent (act does). */
export const decideTimeout = Duration.millis(DECIDE_TIMEOUT_MS);
/** act carries out one intent: the longest, a rewind, may take 120 s. */
export const actTimeout = Duration.millis(ACT_TIMEOUT_MS);

/** The four handlers, their triggers and their permissions. */
export class PgVigilFunctions extends Construct {
  readonly probe: NodejsFunction;
  readonly decide: NodejsFunction;
  /** Carries out each intent decide hands on (asynchronous invoke), and sends the result back to decide. */
  readonly act: NodejsFunction;
  readonly notify: NodejsFunction;
  readonly streamFailures: sqs.Queue;
  /** The network interface permissions the three execution roles share (instead of AWSLambdaVPCAccessExecutionRole). */
  readonly vpcAccess: LambdaVpcAccess;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    // Lambda caps all environment variables together at 4 KB.
    const specBytes = Buffer.byteLength(props.clustersJson, 'utf8');
    if (specBytes > 3 * 1024) {
      throw new Error(`PgVigil: clusters: the specs take ${specBytes} bytes and Lambda environments hold 4 KB in all: deploy one stack per few clusters (-c stackName=…)`);
    }
    const environment: Record<string, string> = {
      PGVIGIL_TABLE: props.table.tableName,
      PGVIGIL_CLUSTERS: props.clustersJson,
      PGVIGIL_TOPIC_ARN: props.topic.topicArn,
      POWERTOOLS_METRICS_NAMESPACE: 'pgvigil',
      PGVIGIL_PROBE_CADENCE: props.probeCadence,
    };
    if (props.zone) environment.PGVIGIL_ENDPOINTS = Stack.of(this).toJsonString({ route53: props.zone.endpointsConfig() });

    this.vpcAccess = new LambdaVpcAccess(this, 'VpcAccess');
    const make = (name: HandlerName, timeout: Duration, description: string, extra: Partial<NodejsFunctionProps> = {}) =>
      new NodejsFunction(this, name, {
        role: this.vpcAccess.role(this, `${name}Role`),
        entry: handlerEntries[name],
        handler: 'handler',
        projectRoot: repoRoot,
        depsLockFilePath: `${repoRoot}/package-lock.json`,
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: name === 'probe' ? probeMemoryMb : lambdaMemoryMb,
        timeout,
        description,
        bundling: lambdaBundling,
        environment: { ...environment, POWERTOOLS_SERVICE_NAME: `pgvigil-${name}` },
        vpc: props.network.vpc,
        vpcSubnets: props.network.subnets,
        securityGroups: [props.network.lambdaSecurityGroup],
        logGroup: new logs.LogGroup(this, `${name}Logs`, { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
        loggingFormat: lambda.LoggingFormat.JSON,
        ...(props.reservedConcurrency ? { reservedConcurrentExecutions: props.reservedConcurrency[name] } : {}),
        ...extra,
      });

    const onWake = props.probeCadence === 'on-wake';
    this.probe = make('probe', probeTimeout, onWake ? 'pgvigil: probe every node until the clusters are settled, each minute and when woken' : 'pgvigil: probe every node, every probe interval, for a minute');
    // act's name is fixed here so decide can be told it and allowed to invoke it without a
    // reference to the function: decide's environment naming act, and act's naming decide,
    // would otherwise make the two functions (and their policies) depend on each other.
    const actName = `${Names.uniqueResourceName(this, { maxLength: 60, separator: '-' })}-act`;
    this.decide = make('decide', decideTimeout, 'pgvigil: decide from observations, ticks, operator commands and action results; hand intents to act', {
      environment: { ...environment, POWERTOOLS_SERVICE_NAME: 'pgvigil-decide', PGVIGIL_ACT_FUNCTION: actName, ...(onWake ? { PGVIGIL_PROBE_FUNCTION: this.probe.functionName } : {}) },
    });
    // On-wake, decide starts the probe for an agent's wake (asynchronously) and before an operator
    // command that finds no fresh observation (waiting for it). The function itself, not its versions.
    if (onWake) this.decide.addToRolePolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.probe.functionArn] }));
    this.act = make('act', actTimeout, 'pgvigil: carry out one intent (an agent action or the endpoints) and send its result to decide', {
      functionName: actName,
      environment: { ...environment, POWERTOOLS_SERVICE_NAME: 'pgvigil-act', PGVIGIL_DECIDE_FUNCTION: this.decide.functionName },
    });
    // No Lambda retries: a failed action is recorded as failed and asked again by the decider; an act
    // that died is replaced by decide once its hand-off hold runs out (lib/control/handOff.ts).
    this.act.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
    const actArn = Stack.of(this).formatArn({ service: 'lambda', resource: 'function', resourceName: actName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.decide.addToRolePolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [actArn] }));
    // The function itself, not its versions and aliases (grantInvoke would add ':*').
    this.act.addToRolePolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.decide.functionArn] }));
    this.notify = make('notify', Duration.seconds(30), 'pgvigil: publish decisions to SNS and EventBridge');

    // Store access by trust domain is granted in storeAccess.ts; the probe signs nothing, so only decide reads the key.
    // act signs the agent actions; decide still signs a scheduled backup's request.
    props.agentKeys.grantSigner(this.decide);
    props.agentKeys.grantSigner(this.act);
    props.topic.grantPublish(this.notify);
    // Decision events on the account's default bus (source pgvigil), for users' own rules; notify alone may put them.
    const decisionEvents = props.decisionEvents ?? true;
    this.notify.addEnvironment('PGVIGIL_DECISION_EVENTS', decisionEvents ? 'on' : 'off');
    if (decisionEvents) events.EventBus.fromEventBusName(this, 'DefaultBus', 'default').grantPutEventsTo(this.notify);
    // A scheduled backup that fails is reported by decide itself: it is no decision, so notify never sees it.
    props.topic.grantPublish(this.decide);
    // The endpoints intent is carried out by act: decide never calls Route 53.
    props.zone?.grantEndpointChanges(this.act);

    // Stream records that still fail after bisecting and retrying land here, with their shard position.
    this.streamFailures = new sqs.Queue(this, 'StreamFailures', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const upserts = lambda.FilterRule.or('INSERT', 'MODIFY');
    const itemsWithPrefix = (prefix: string) =>
      lambda.FilterCriteria.filter({ eventName: upserts, dynamodb: { Keys: { sk: { S: lambda.FilterRule.beginsWith(prefix) } } } });
    const streamOptions = {
      startingPosition: lambda.StartingPosition.LATEST,
      batchSize: 100,
      bisectBatchOnError: true,
      retryAttempts: 3,
      maxRecordAge: Duration.minutes(15),
      reportBatchItemFailures: true,
      onFailure: new SqsDlq(this.streamFailures),
    };
    // Observations (and on-wake, agents' wakes, which decide passes to the probe: a third reader
    // of a stream shard is throttled, Lambda developer guide "Using Lambda with DynamoDB"). Not
    // lease renewals: they are frequent and decide never reads them (the prober carries what
    // matters of a lease in its observations), so they would only cost runs.
    this.decide.addEventSource(new DynamoEventSource(props.table, { ...streamOptions, filters: decideStreamPrefixes(props.probeCadence).map(itemsWithPrefix) }));
    this.notify.addEventSource(
      new DynamoEventSource(props.table, {
        ...streamOptions,
        // Decisions are appended, never rewritten: only inserts are news.
        filters: [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.isEqual('INSERT'), dynamodb: { Keys: { sk: { S: lambda.FilterRule.beginsWith('D#') } } } })],
      }),
    );

    // EventBridge cannot schedule below a minute; probe loops inside its invocation (always), or
    // runs until settled (on-wake: the independent look once a minute, whoever wakes it between).
    // No retries: a late probe round would overlap the next minute's.
    const everyMinute = events.Schedule.rate(Duration.minutes(1));
    const enabled = props.schedulesEnabled ?? true;
    new events.Rule(this, 'ProbeSchedule', { schedule: everyMinute, enabled, description: 'pgvigil: start a minute of probe rounds' }).addTarget(
      new targets.LambdaFunction(this.probe, { retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
    );
    new events.Rule(this, 'DecideTick', { schedule: everyMinute, enabled, description: 'pgvigil: tick decide so timeouts fire without new observations' }).addTarget(
      new targets.LambdaFunction(this.decide, { retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
    );
  }
}
