import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { HookEvent } from './hookedEvents.ts';

/** The `source` of every event pgvigil puts on the bus: rules match `{"source": ["pgvigil"]}`. */
export const eventSource = 'pgvigil';
/** PutEvents takes at most 10 entries, and at most 256 KB of them, per request. */
const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 256 * 1024;

/** One event to put, and the stream record it came from (what fails when it can't be put). */
export interface BusEvent {
  recordId: string;
  event: HookEvent;
}

export interface PutResult {
  /** Stream records with an event EventBridge still refused after one retry. */
  failedRecords: Set<string>;
  /** Why, one line per refused entry (error codes and messages from EventBridge). */
  reasons: string[];
}

/** The entry for one event: detail-type is the event type, detail the event with cluster, seq and index. */
export function busEntry(e: HookEvent, bus: string): PutEventsRequestEntry {
  let detail = JSON.stringify(e);
  // Evidence is what can make an event large; the decision log keeps it whole.
  if (entryBytes(e.type, detail) > MAX_REQUEST_BYTES && 'evidence' in e) detail = JSON.stringify({ ...e, evidence: null, evidenceOmitted: true });
  return { Source: eventSource, DetailType: e.type, Detail: detail, Time: new Date(e.at), EventBusName: bus };
}

/** An entry's size as EventBridge counts it: Time 14 bytes, then the UTF-8 bytes of Source, DetailType and Detail. */
function entryBytes(detailType: string, detail: string): number {
  return 14 + Buffer.byteLength(eventSource) + Buffer.byteLength(detailType) + Buffer.byteLength(detail);
}

/** Batches in order: at most 10 entries and 256 KB each. */
function batches<T extends { entry: PutEventsRequestEntry }>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = entryBytes(item.entry.DetailType ?? '', item.entry.Detail ?? '');
    if (cur.length === MAX_ENTRIES || (cur.length > 0 && bytes + size > MAX_REQUEST_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(item);
    bytes += size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

type Pending = { recordId: string; entry: PutEventsRequestEntry };

/** Put each batch; what EventBridge refuses (an entry, or the whole request) comes back with why. */
async function putAll(client: EventBridgeClient, items: readonly Pending[]): Promise<Array<Pending & { why: string }>> {
  const refused: Array<Pending & { why: string }> = [];
  for (const batch of batches(items)) {
    try {
      const out = await client.send(new PutEventsCommand({ Entries: batch.map((b) => b.entry) }));
      if (!out.FailedEntryCount) continue;
      // The answer's entries match the request's, one for one and in order.
      batch.forEach((b, i) => {
        const r = out.Entries?.[i];
        if (!r || r.ErrorCode || !r.EventId) refused.push({ ...b, why: `${r?.ErrorCode ?? 'no result'}: ${r?.ErrorMessage ?? ''}`.trim() });
      });
    } catch (e) {
      const err = e as Error;
      for (const b of batch) refused.push({ ...b, why: `${err.name}: ${err.message}` });
    }
  }
  return refused;
}

/**
 * Put the events on the bus, batched; entries EventBridge refuses are retried once, and the
 * records of those refused again are returned, so the stream delivers them again.
 */
export async function putDecisionEvents(client: EventBridgeClient, events: readonly BusEvent[], bus = 'default'): Promise<PutResult> {
  const items = events.map((e) => ({ recordId: e.recordId, entry: busEntry(e.event, bus) }));
  const first = await putAll(client, items);
  const second = first.length > 0 ? await putAll(client, first) : [];
  return {
    failedRecords: new Set(second.map((s) => s.recordId)),
    reasons: second.map((s) => `eventbridge: ${s.entry.DetailType} of record ${s.recordId} refused twice: ${s.why}`),
  };
}
