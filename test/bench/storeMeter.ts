import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Store } from '../../lib/store/store.ts';
import { dynamoItemBytes, writeUnits } from './itemBytes.ts';

/** One request the store sent, as DynamoDB would bill it. */
export interface MeteredRequest {
  command: string;
  /** Sort-key prefix of the item written (O#, L#, D#, S#), or null for reads. */
  kind: string | null;
  /** The item written (Put), for the stream record it would make. */
  item: Record<string, unknown> | null;
  readUnits: number;
  writeUnits: number;
  ok: boolean;
  at: number;
}

const READS = new Set(['QueryCommand', 'GetCommand', 'GetItemCommand', 'ScanCommand', 'BatchGetCommand', 'BatchGetItemCommand']);
const ATTRIBUTE_TYPES = new Set(['S', 'N', 'B', 'BOOL', 'NULL', 'M', 'L', 'SS', 'NS', 'BS']);

/** The item as plain values, whether this middleware runs before or after the document client marshalled it. */
function plainItem(item: Record<string, unknown>): Record<string, unknown> {
  const marshalled = Object.values(item).every((v) => v !== null && typeof v === 'object' && Object.keys(v).length === 1 && ATTRIBUTE_TYPES.has(Object.keys(v)[0]!));
  return marshalled ? unmarshall(item as Parameters<typeof unmarshall>[0]) : item;
}

const plainString = (v: unknown): string | null =>
  typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { S?: unknown }).S === 'string' ? (v as { S: string }).S : null;

/**
 * Count what a store's client sends, on the real client: a middleware asks DynamoDB (here
 * dynalite) for ConsumedCapacity on every request and records it. A write that fails (a lost
 * conditional put) is billed by AWS too: its units come from the item's size.
 */
export function meterStore(store: Store, onRequest: (r: MeteredRequest) => void): void {
  store.doc.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      input['ReturnConsumedCapacity'] = 'TOTAL';
      const command = String(context.commandName ?? 'unknown');
      const raw = input['Item'] as Record<string, unknown> | undefined;
      const item = raw ? plainItem(raw) : null;
      const sk = item ? plainString(item['sk']) : null;
      const kind = sk ? sk.slice(0, 2) : null;
      const isRead = READS.has(command);
      try {
        const out = await next(args);
        const consumed = (out.output as { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] }).ConsumedCapacity;
        const units = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0);
        onRequest({ command, kind, item, readUnits: isRead ? units : 0, writeUnits: isRead ? 0 : units, ok: true, at: Date.now() });
        return out;
      } catch (e) {
        const units = item ? writeUnits(dynamoItemBytes(item)) : isRead ? 1 : 0;
        onRequest({ command, kind, item, readUnits: isRead ? units : 0, writeUnits: isRead ? 0 : units, ok: false, at: Date.now() });
        throw e;
      }
    },
    { step: 'initialize', name: 'pgvigilCostMeter', priority: 'low' },
  );
}
