import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { alertsFor } from '../alerts/alertMessage.ts';
import { publishAlert } from '../alerts/snsPublisher.ts';
import { putDecisionEvents, type BusEvent } from '../hooks/eventBridgePublisher.ts';
import { hookEventsOf } from '../hooks/hookedEvents.ts';
import { parseDecisionItem, readDecisions } from '../store/decisionLog.ts';
import { loadState } from '../store/loadState.ts';
import type { Store } from '../store/store.ts';
import { StreamBatch, StreamRecord } from './lambdaEvents.ts';
import type { Log } from '../log.ts';

export interface NotifyDeps {
  store: Store;
  log: Log;
  sns: SNSClient;
  topicArn: string;
  /** Also put each hooked decision event on this EventBridge bus (absent: SNS only). */
  events?: { client: EventBridgeClient; bus?: string };
}

/**
 * The notify function: each new decision item becomes one alert per event worth telling
 * people about, published to SNS, and each hooked event (lib/hooks) is put on the EventBridge
 * bus. A record that can't be read, an alert SNS refused, or an event EventBridge refused twice
 * is reported as a batch item failure so only it is retried.
 */
export async function handleNotifyEvent(event: unknown, deps: NotifyDeps): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
  const batch = StreamBatch.safeParse(event);
  if (!batch.success) return { batchItemFailures: [] };
  const failures: { itemIdentifier: string }[] = [];
  const paused = new Map<string, boolean>();
  const busEvents: BusEvent[] = [];
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
    if (!paused.has(cluster)) paused.set(cluster, await pausedBefore(deps.store, cluster, item.value.seq));
    const alerts = alertsFor(cluster, item.value.events, paused.get(cluster) ?? false);
    if (deps.events) for (const event of hookEventsOf(cluster, item.value.seq, item.value.events)) busEvents.push({ recordId: id, event });
    for (const e of item.value.events) {
      if (e.type === 'Paused') paused.set(cluster, true);
      if (e.type === 'Resumed') paused.set(cluster, false);
    }
    for (const alert of alerts) {
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
  if (deps.events && busEvents.length > 0) {
    const put = await putDecisionEvents(deps.events.client, busEvents, deps.events.bus);
    for (const reason of put.reasons) deps.log({ level: 'error', msg: 'decision event not put on the bus', reason });
    for (const id of put.failedRecords) if (!failures.some((f) => f.itemIdentifier === id)) failures.push({ itemIdentifier: id });
  }
  return { batchItemFailures: failures };
}

/**
 * Whether the cluster was paused just before decision `seq`: the current state, with every
 * pause and resume from `seq` on undone (they alternate: decide refuses a second pause).
 */
async function pausedBefore(store: Store, cluster: string, seq: number): Promise<boolean> {
  const now = await loadState(store, cluster);
  if (!now.ok) return false;
  const since = await readDecisions(store, cluster, { afterSeq: seq - 1 });
  const toggles = since.ok ? since.items.flatMap((i) => i.events).filter((e) => e.type === 'Paused' || e.type === 'Resumed').length : 0;
  return toggles % 2 === 0 ? now.state.paused : !now.state.paused;
}
