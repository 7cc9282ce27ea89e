import { Construct } from 'constructs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ArnFormat, Stack } from 'aws-cdk-lib';

export interface AlertTopicProps {
  alertEmails: string[];
  alertHttpsEndpoints: string[];
}

/** The topic every alert goes to: decisions from notify, and the CloudWatch alarms. */
export class AlertTopic extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: AlertTopicProps) {
    super(scope, id);
    // The topic's own key (the archive has another): alarms of this account may use it, nothing else.
    this.key = new kms.Key(this, 'Key', { enableKeyRotation: true, description: 'pgvigil: alert topic' });
    const stack = Stack.of(this);
    // CloudWatch alarms publish to an encrypted topic only if they may use its key; the source
    // conditions keep another account's alarms from using CloudWatch as a confused deputy.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
        },
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', { masterKey: this.key, enforceSSL: true, displayName: 'pgvigil' });
    for (const email of props.alertEmails) this.topic.addSubscription(new subs.EmailSubscription(email));
    for (const url of props.alertHttpsEndpoints) this.topic.addSubscription(new subs.UrlSubscription(url, { protocol: sns.SubscriptionProtocol.HTTPS }));
  }
}
