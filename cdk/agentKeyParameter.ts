import * as path from 'node:path';
import { Construct } from 'constructs';
import { CustomResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { lambdaBundling, repoRoot } from './bundling.ts';
import type { AgentKeyParameterProps } from '../lib/control/agentKeyParameterEvent.ts';

/** The onEvent handler's entry (its logic: lib/control/agentKeyParameterEvent.ts). */
export const agentKeyParameterEntry = path.join(repoRoot, 'functions', 'agentKeyParameter.ts');

/** The ARN of a parameter whose name starts with '/' (a hierarchy), as IAM matches it. */
export const parameterArn = (scope: Construct, name: string): string => Stack.of(scope).formatArn({ service: 'ssm', resource: `parameter${name}` });

/**
 * The custom resource provider that makes the agent keys' SecureString parameters (CloudFormation
 * cannot make one), one handler for every node: `keyParameter` adds one node's parameter and
 * lets the handler put and delete that parameter, by its ARN, and no other.
 */
export class AgentKeyParameterProvider extends Construct {
  readonly handler: NodejsFunction;
  readonly provider: cr.Provider;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.handler = new NodejsFunction(this, 'onEvent', {
      entry: agentKeyParameterEntry,
      handler: 'handler',
      projectRoot: repoRoot,
      depsLockFilePath: `${repoRoot}/package-lock.json`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 128,
      // Two SSM calls at most, each bounded by the client's 5 s request limit.
      timeout: Duration.seconds(30),
      description: "pgvigil: make each node's agent key as an SSM SecureString parameter (answers its name, never the key)",
      bundling: lambdaBundling,
      logGroup: new logs.LogGroup(this, 'onEventLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
      loggingFormat: lambda.LoggingFormat.JSON,
    });
    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.handler,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
    });
    this.acknowledgeFindings();
  }

  /** The cdk-nag findings these two functions bring, each with its reason (the rest: cdk/nagSuppressions.ts). */
  private acknowledgeFindings(): void {
    const ack = (scope: Construct, id: string, reason: string) => Validations.of(scope).acknowledge({ id, reason });
    const framework = this.provider.node.findChild('framework-onEvent') as lambda.Function;
    for (const fn of [this.handler, framework]) {
      ack(
        fn.role!,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        "Lambda log delivery for the agent key parameters' custom resource: logs:CreateLogGroup, CreateLogStream and PutLogEvents on \"*\" (AWS managed policy v1); log writes only, no read, no delete.",
      );
    }
    ack(
      this.handler,
      'AwsSolutions-L1',
      'Node.js 22 is the runtime pgvigil is built and tested for (esbuild target node22, CI), the same as its four handlers; a newer runtime is adopted deliberately, with its own test run.',
    );
    ack(
      framework.role!,
      `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.handler.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
      "The CDK Provider framework invokes its onEvent handler by ARN and by any version or alias of it (':*'); that one function only, which can put and delete the nodes' agent key parameters and nothing else.",
    );
  }

  /** One node's key parameter; its `ref` is the parameter's name, once it exists. */
  keyParameter(scope: Construct, id: string, props: AgentKeyParameterProps): CustomResource {
    this.handler.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:PutParameter', 'ssm:DeleteParameter'], resources: [parameterArn(this, props.Name)] }));
    return new CustomResource(scope, id, {
      serviceToken: this.provider.serviceToken,
      resourceType: 'Custom::PgVigilAgentKeyParameter',
      properties: { ...props },
    });
  }
}
