import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import { storeFromEnv } from '../lib/control/awsControlPlane.ts';
import { parseLambdaEnv, type LambdaEnv } from '../lib/control/lambdaEnv.ts';
import { handleNotifyEvent } from '../lib/control/notifyHandler.ts';
import { jsonLog, type Log } from '../lib/log.ts';
import type { Store } from '../lib/store/store.ts';

/**
 * Decision items from the table's stream, as alerts on the SNS topic and as events on the
 * default EventBridge bus (PGVIGIL_DECISION_EVENTS=off: SNS only; the construct sets it).
 */
let clients: { key: string; store: Store; log: Log; sns: SNSClient; events: EventBridgeClient } | null = null;

/**
 * One set of clients per container, as decide and act keep theirs (a new client per invocation
 * is a new TLS connection), with time limits under notify's 30 s.
 */
function clientsFor(e: LambdaEnv) {
  const key = `${e.AWS_REGION} ${e.PGVIGIL_TABLE} ${e.PGVIGIL_STORE_ENDPOINT ?? ''}`;
  if (clients?.key !== key) {
    const requestHandler = { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true };
    const log = jsonLog('notify');
    clients = {
      key,
      log,
      store: storeFromEnv(e, log),
      sns: new SNSClient({ region: e.AWS_REGION, requestHandler, maxAttempts: 2 }),
      events: new EventBridgeClient({ region: e.AWS_REGION, requestHandler }),
    };
  }
  return clients;
}

export const handler = async (event: unknown) => {
  const env = parseLambdaEnv();
  if (!env.ok) throw new Error(env.reason);
  const e = env.value;
  if (!e.PGVIGIL_TOPIC_ARN) throw new Error('set PGVIGIL_TOPIC_ARN to the alert topic');
  const { store, log, sns, events } = clientsFor(e);
  return handleNotifyEvent(event, {
    store,
    log,
    sns,
    topicArn: e.PGVIGIL_TOPIC_ARN,
    ...(e.PGVIGIL_DECISION_EVENTS === 'on' ? { events: { client: events } } : {}),
  });
};
