import { randomUUID } from 'node:crypto';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { alertsFor } from '../alerts/alertMessage.ts';
import { publishAlert } from '../alerts/snsPublisher.ts';
import { putDecisionEvents, type BusEvent } from '../hooks/eventBridgePublisher.ts';
import { hookEventsOf } from '../hooks/hookedEvents.ts';
import { parseDecisionItem, readDecisions } from '../store/decisionLog.ts';
import { loadState } from '../store/loadState.ts';
import { settleClaim, takeClaim } from '../store/claims.ts';
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
 * An alert's claim: the decision's sequence and the alert's place among its alerts, which a
 * retry computes the same (the alerts of a decision and whether the cluster was paused before it
 * are fixed by the log).
 */
export const alertClaimKey = (seq: number, index: number): string => `N#${String(seq).padStart(12, '0')}#${index}`;

/** How long a claimed alert is held for its publish (SNS's request timeout, with room); an invocation that died mid-publish holds it no longer. */
export const ALERT_HOLD_MS = 15_000;

/**
 * The notify function: each new decision item becomes one alert per event worth telling
 * people about, published to SNS, and each hooked event (lib/hooks) is put on the EventBridge
 * bus. Powertools' BatchProcessor reports a record that can't be read, an alert SNS refused, or
 * an event EventBridge refused twice by its SequenceNumber, so Lambda retries from there. A
 * retry sees the records after it again: each alert is claimed in the store before it is
 * published and marked done after, so a retried batch sends none twice.
 */
export async function handleNotifyEvent(event: unknown, deps: NotifyDeps): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
  const batch = StreamBatch.safeParse(event);
  if (!batch.success) return { batchItemFailures: [] };
  const owner = `notify-${randomUUID()}`;
  const paused = new Map<string, boolean>();
  const busEvents: BusEvent[] = [];
  const notifyRecord = async (raw: unknown) => {
    const r = StreamRecord.safeParse(raw);
    const image = r.success ? r.data.dynamodb.NewImage : undefined;
    const item = image ? parseDecisionItem(unmarshall(image as Parameters<typeof unmarshall>[0])) : null;
    const id = (raw as { dynamodb?: { SequenceNumber?: unknown } } | null)?.dynamodb?.SequenceNumber;
    if (!r.success || !item || !item.ok) {
      const error = !r.success ? r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : item && !item.ok ? item.unreadable.error : 'no NewImage';
      deps.log({ level: 'error', msg: 'unreadable decision record', sequence: id, error });
      throw new Error(`unreadable decision record: ${error}`);
    }
    const cluster = r.data.dynamodb.Keys.cluster.S;
    const { seq, events } = item.value;
    if (!paused.has(cluster)) paused.set(cluster, await pausedBefore(deps.store, cluster, seq));
    const alerts = alertsFor(cluster, events, paused.get(cluster) ?? false);
    if (deps.events && typeof id === 'string') for (const e of hookEventsOf(cluster, seq, events)) busEvents.push({ recordId: id, event: e });
    for (const e of events) {
      if (e.type === 'Paused') paused.set(cluster, true);
      if (e.type === 'Resumed') paused.set(cluster, false);
    }
    for (const [index, alert] of alerts.entries()) {
      const key = alertClaimKey(seq, index);
      const claim = await takeClaim(deps.store, cluster, key, { owner, now: Date.now(), holdMs: ALERT_HOLD_MS });
      if (!claim.ok) throw new Error(`alert ${key} of ${cluster} not claimed: ${claim.reason}`);
      if (!claim.claimed && claim.done) continue;
      if (!claim.claimed) throw new Error(`alert ${key} of ${cluster} is being published by another invocation`);
      const sent = await publishAlert(deps.sns, deps.topicArn, { subject: alert.subject, body: alert.body, attributes: { cluster, severity: alert.severity, event: alert.event } });
      if (!sent.ok) {
        deps.log({ level: 'error', msg: 'alert not published', cluster, seq, reason: sent.reason });
        await settleClaim(deps.store, cluster, key, owner, 'released');
        throw new Error(`alert not published: ${sent.reason}`);
      }
      // Marking it done can fail only with the store: the record is retried, and once the hold has
      // run out the alert may be sent again (the one way to a duplicate: a store outage just here).
      const settled = await settleClaim(deps.store, cluster, key, owner, 'done');
      if (!settled.ok) throw new Error(settled.reason);
    }
  };
  // In order: a record's alerts depend on the pauses of the records before it.
  const answer = await processPartialResponse(batch.data as Parameters<typeof processPartialResponse>[0], notifyRecord, new BatchProcessor(EventType.DynamoDBStreams), {
    processInParallel: false,
    throwOnFullBatchFailure: false,
  });
  const failures = [...answer.batchItemFailures];
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
