import { Construct } from 'constructs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ArnFormat, Stack } from 'aws-cdk-lib';
import { topicUse } from './controlKey.ts';

export interface AlertTopicProps {
  /** The stack's one key (cdk/controlKey.ts), shared with the archive. */
  key: kms.Key;
  alertEmails: string[];
  alertHttpsEndpoints: string[];
}

/**
 * A topic whose grants on its key hold only under its own encryption context: whoever may
 * publish here (grantPublish) may use the shared key for this topic's messages and nothing else.
 */
class ContextBoundTopic extends sns.Topic {
  override grantOnKey(grantee: iam.IGrantable, ...actions: string[]): iam.GrantOnKeyResult {
    if (!this.masterKey) return {};
    return { grant: iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [this.masterKey.keyArn], conditions: topicUse(this.topicArn) }) };
  }
}

/** The topic every alert goes to: decisions from notify, and the CloudWatch alarms. */
export class AlertTopic extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: AlertTopicProps) {
    super(scope, id);
    this.key = props.key;
    const stack = Stack.of(this);
    // CloudWatch alarms publish to an encrypted topic only if they may use its key; the source
    // conditions keep another account's alarms from using CloudWatch as a confused deputy, and
    // the context keeps CloudWatch to topics of this account (the key policy cannot name this
    // topic: the topic refers to the key, so the key referring to the topic is a cycle).
    props.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
          StringLike: { 'kms:EncryptionContext:aws:sns:topicArn': stack.formatArn({ service: 'sns', resource: '*', arnFormat: ArnFormat.NO_RESOURCE_NAME }) },
        },
      }),
    );
    this.topic = new ContextBoundTopic(this, 'Topic', { masterKey: props.key, enforceSSL: true, displayName: 'pgvigil' });
    for (const email of props.alertEmails) this.topic.addSubscription(new subs.EmailSubscription(email));
    for (const url of props.alertHttpsEndpoints) this.topic.addSubscription(new subs.UrlSubscription(url, { protocol: sns.SubscriptionProtocol.HTTPS }));
  }
}
