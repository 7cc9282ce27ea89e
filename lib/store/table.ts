import { CreateTableCommand, DescribeTableCommand, UpdateTimeToLiveCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { Store } from './store.ts';
import { storeFailure } from './storeFailure.ts';

type Failure = { ok: false; reason: string };
const ACTIVE_WAIT_MS = 120_000;
const POLL_MS = 250;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const nameOf = (err: unknown): string => (typeof err === 'object' && err !== null && 'name' in err ? String(err.name) : '');

async function tableStatus(store: Store): Promise<{ ok: true; status: string | null } | Failure> {
  try {
    const out = await store.doc.send(new DescribeTableCommand({ TableName: store.table }));
    return { ok: true, status: out.Table?.TableStatus ?? null };
  } catch (err) {
    if (nameOf(err) === 'ResourceNotFoundException') return { ok: true, status: null };
    return { ok: false, reason: storeFailure(store, err, `describing table ${store.table}`) };
  }
}

/**
 * Create the table if missing and wait until it is ACTIVE. On AWS the CDK stack normally owns
 * the table; this serves local mode and first runs. Streams and TTL are asked for, and their
 * absence is tolerated (dynalite has neither: local mode prunes observations itself).
 */
export async function ensureTable(store: Store): Promise<{ ok: true; created: boolean } | Failure> {
  const first = await tableStatus(store);
  if (!first.ok) return first;
  let created = false;
  if (first.status === null) {
    const input: CreateTableCommandInput = {
      TableName: store.table,
      AttributeDefinitions: [
        { AttributeName: 'cluster', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'cluster', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
    };
    try {
      await store.doc.send(new CreateTableCommand(input));
      created = true;
    } catch (err) {
      // Someone else created it meanwhile: fine, wait for it like ours.
      if (nameOf(err) !== 'ResourceInUseException') return { ok: false, reason: storeFailure(store, err, `creating table ${store.table}`) };
    }
  }
  const deadline = Date.now() + ACTIVE_WAIT_MS;
  for (;;) {
    const now = await tableStatus(store);
    if (!now.ok) return now;
    if (now.status === 'ACTIVE') break;
    if (Date.now() > deadline) return { ok: false, reason: `table ${store.table} is still ${now.status ?? 'missing'} after ${ACTIVE_WAIT_MS / 1000} s at ${store.where}` };
    await sleep(POLL_MS);
  }
  if (created) await enableTtl(store);
  return { ok: true, created };
}

async function enableTtl(store: Store): Promise<void> {
  try {
    await store.doc.send(new UpdateTimeToLiveCommand({ TableName: store.table, TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } }));
  } catch (err) {
    store.log({ level: 'info', msg: 'TTL not enabled on the table (dynalite has none; observations are pruned instead)', table: store.table, error: nameOf(err) });
  }
}
