import { SNSClient } from '@aws-sdk/client-sns';
import { publishAlert } from '../lib/alerts/snsPublisher.ts';
import { awsControlPlane } from '../lib/control/awsControlPlane.ts';
import { handleDecideEvent } from '../lib/control/decideHandler.ts';
import { parseLambdaEnv } from '../lib/control/lambdaEnv.ts';

let sns: SNSClient | null = null;

/** The table's stream (observations, leases), the one-minute tick, operator commands by invoke, and the backup schedule. */
export const handler = async (event: unknown, context?: { getRemainingTimeInMillis?: () => number }) => {
  const env = parseLambdaEnv();
  if (!env.ok) throw new Error(env.reason);
  const cp = await awsControlPlane(env.value, 'decide');
  const topicArn = env.value.PGVIGIL_TOPIC_ARN;
  const remainingMs = context?.getRemainingTimeInMillis?.bind(context);
  return handleDecideEvent(event, env.value, cp, {
    ...(remainingMs ? { remainingMs } : {}),
    ...(topicArn ? { alert: (a) => publishAlert((sns ??= new SNSClient({ region: env.value.AWS_REGION })), topicArn, a) } : {}),
  });
};
