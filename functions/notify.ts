import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import { storeFromEnv } from '../lib/control/awsControlPlane.ts';
import { parseLambdaEnv } from '../lib/control/lambdaEnv.ts';
import { handleNotifyEvent } from '../lib/control/notifyHandler.ts';
import { jsonLog } from '../lib/log.ts';

/**
 * Decision items from the table's stream, as alerts on the SNS topic and as events on the
 * default EventBridge bus (PGVIGIL_DECISION_EVENTS=off: SNS only; the construct sets it).
 */
let clients: { region: string; sns: SNSClient; events: EventBridgeClient } | null = null;

/** One pair of clients per container (a new client per invocation is a new TLS connection), with time limits under notify's 30 s. */
function clientsFor(region: string) {
  const requestHandler = { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true };
  if (clients?.region !== region) clients = { region, sns: new SNSClient({ region, requestHandler, maxAttempts: 2 }), events: new EventBridgeClient({ region, requestHandler }) };
  return clients;
}

export const handler = async (event: unknown) => {
  const env = parseLambdaEnv();
  if (!env.ok) throw new Error(env.reason);
  const e = env.value;
  if (!e.PGVIGIL_TOPIC_ARN) throw new Error('set PGVIGIL_TOPIC_ARN to the alert topic');
  const decisionEvents = process.env['PGVIGIL_DECISION_EVENTS'] ?? 'on';
  if (decisionEvents !== 'on' && decisionEvents !== 'off') throw new Error(`PGVIGIL_DECISION_EVENTS is ${JSON.stringify(decisionEvents)}: set it to on or off`);
  const log = jsonLog('notify');
  const store = storeFromEnv(e, log);
  const { sns, events } = clientsFor(e.AWS_REGION);
  return handleNotifyEvent(event, {
    store,
    log,
    sns,
    topicArn: e.PGVIGIL_TOPIC_ARN,
    ...(decisionEvents === 'on' ? { events: { client: events } } : {}),
  });
};
