import * as path from 'node:path';
import { Construct } from 'constructs';
import { CustomResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { lambdaBundling, repoRoot } from './bundling.ts';
import { parameterDecrypt, parameterEncrypt, parameterUse } from './controlKey.ts';
import type { AgentKeyParameterProps, HostParameterProps } from '../lib/control/agentKeyParameterEvent.ts';

/** The onEvent handler's entry (its logic: lib/control/agentKeyParameterEvent.ts). */
export const agentKeyParameterEntry = path.join(repoRoot, 'functions', 'agentKeyParameter.ts');

/** The ARN of a parameter whose name starts with '/' (a hierarchy), as IAM matches it. */
export const parameterArn = (scope: Construct, name: string): string => Stack.of(scope).formatArn({ service: 'ssm', resource: `parameter${name}` });

/**
 * The custom resource provider that makes the stack's SecureString parameters (CloudFormation
 * cannot make one), one handler for all of them: `keyParameter` adds one node's agent key,
 * `hostParameter` one of a cluster's host parameters (cdk/hostSecrets.ts), and each lets the
 * handler put and delete that parameter, by its ARN, and no other.
 */
export class AgentKeyParameterProvider extends Construct {
  readonly handler: NodejsFunction;
  readonly provider: cr.Provider;
  /** The stack's key (cdk/controlKey.ts): every parameter is put under it, so only the principals it grants decrypt one. */
  readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: { key: kms.IKey }) {
    super(scope, id);
    this.key = props.key;
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
      description: "pgvigil: make the agent keys and the hosts' passwords and CA as SSM SecureString parameters (answers their names, never a value)",
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
        "Lambda log delivery for the SecureString parameters' custom resource: logs:CreateLogGroup, CreateLogStream and PutLogEvents on \"*\" (AWS managed policy v1); log writes only, no read, no delete.",
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
      "The CDK Provider framework invokes its onEvent handler by ARN and by any version or alias of it (':*'); that one function only, which can put and delete the stack's agent key and host parameters and nothing else.",
    );
  }

  /** One node's key parameter; its `ref` is the parameter's name, once it exists. */
  keyParameter(scope: Construct, id: string, props: Omit<AgentKeyParameterProps, 'KeyId'>): CustomResource {
    return this.parameter(scope, id, 'Custom::PgVigilAgentKeyParameter', props);
  }

  /** One of a cluster's host parameters (a password, the CA, its certificate); its `ref` is the name, once it exists. */
  hostParameter(scope: Construct, id: string, props: Omit<HostParameterProps, 'KeyId'>): CustomResource {
    return this.parameter(scope, id, 'Custom::PgVigilHostParameter', props);
  }

  private parameter(scope: Construct, id: string, resourceType: string, props: Omit<AgentKeyParameterProps, 'KeyId'> | Omit<HostParameterProps, 'KeyId'>): CustomResource {
    const arn = parameterArn(this, props.Name);
    // GetParameter: an Update that moves a parameter under the key reads its value to put it back unchanged.
    this.handler.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:PutParameter', 'ssm:DeleteParameter', 'ssm:GetParameter'], resources: [arn] }));
    this.handler.addToRolePolicy(new iam.PolicyStatement({ actions: [...parameterEncrypt, ...parameterDecrypt], resources: [this.key.keyArn], conditions: parameterUse(this, [arn]) }));
    return new CustomResource(scope, id, { serviceToken: this.provider.serviceToken, resourceType, properties: { ...props, KeyId: this.key.keyArn } });
  }
}
