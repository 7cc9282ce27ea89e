import { SNSClient } from '@aws-sdk/client-sns';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { alertFor } from '../alerts/alertMessage.ts';
import { publishAlert } from '../alerts/snsPublisher.ts';
import { parseDecisionItem } from '../store/decisionLog.ts';
import { loadState } from '../store/loadState.ts';
import type { Store } from '../store/store.ts';
import type { ControlLog } from './controlPlane.ts';
import { StreamBatch, StreamRecord } from './lambdaEvents.ts';

export interface NotifyDeps {
  store: Store;
  log: ControlLog;
  sns: SNSClient;
  topicArn: string;
}

/**
 * The notify function: each new decision item becomes one alert per event worth telling
 * people about, published to SNS. A record that can't be read, or an alert SNS refused, is
 * reported as a batch item failure so only it is retried.
 */
export async function handleNotifyEvent(event: unknown, deps: NotifyDeps): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
  const batch = StreamBatch.safeParse(event);
  if (!batch.success) return { batchItemFailures: [] };
  const failures: { itemIdentifier: string }[] = [];
  const paused = new Map<string, boolean>();
  for (const [i, raw] of batch.data.Records.entries()) {
    const r = StreamRecord.safeParse(raw);
    const id = r.success ? r.data.eventID : `record-${i}`;
    const image = r.success ? r.data.dynamodb.NewImage : undefined;
    const item = image ? parseDecisionItem(unmarshall(image as Parameters<typeof unmarshall>[0])) : null;
    if (!item || !item.ok) {
      deps.log({ level: 'error', msg: 'unreadable decision record', eventID: id, error: item && !item.ok ? item.unreadable.error : 'no NewImage' });
      failures.push({ itemIdentifier: id });
      continue;
    }
    const cluster = r.success ? r.data.dynamodb.Keys.cluster.S : '';
    if (!paused.has(cluster)) {
      const s = await loadState(deps.store, cluster);
      paused.set(cluster, s.ok && s.state.paused);
    }
    for (const e of item.value.events) {
      const alert = alertFor(cluster, e, paused.get(cluster) ?? false);
      if (!alert) continue;
      const sent = await publishAlert(deps.sns, deps.topicArn, {
        subject: alert.subject,
        body: alert.body,
        attributes: { cluster, severity: alert.severity, event: alert.event },
      });
      if (!sent.ok) {
        deps.log({ level: 'error', msg: 'alert not published', eventID: id, reason: sent.reason });
        failures.push({ itemIdentifier: id });
        break;
      }
    }
  }
  return { batchItemFailures: failures };
}
