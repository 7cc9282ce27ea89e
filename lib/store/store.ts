import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StoreConfig } from './storeConfig.ts';
import { jsonLog, type Log } from '../log.ts';

/** An open event store: the document client, the table and where it lives (for error messages). */
export type Store = {
  readonly doc: DynamoDBDocumentClient;
  readonly table: string;
  /** Human-readable location, used in "store unreachable" reasons. */
  readonly where: string;
  readonly log: Log;
};

/**
 * Local mode (an endpoint is set) fails fast: a dead dynalite should surface in about a
 * second, not after the SDK's default retries. On AWS the SDK's defaults for retries stay,
 * with timeouts so a Lambda never hangs on one request.
 */
function clientConfig(config: StoreConfig): DynamoDBClientConfig {
  if (config.endpoint === undefined) {
    return {
      region: config.region,
      requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
    };
  }
  const envCredentials = process.env['AWS_ACCESS_KEY_ID'] !== undefined || process.env['AWS_PROFILE'] !== undefined;
  return {
    region: config.region,
    endpoint: config.endpoint,
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 500, requestTimeout: 5_000, throwOnRequestTimeout: true },
    // dynalite accepts any signature; dummy keys keep the SDK from searching for real ones.
    ...(envCredentials ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  };
}

export function createStore(config: StoreConfig, log: Log = jsonLog('store')): Store {
  const client = new DynamoDBClient(clientConfig(config));
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const where = config.endpoint ?? `DynamoDB in ${config.region}`;
  return { doc, table: config.table, where, log };
}

/** Close the client's sockets so the process (or a test) can exit. */
export function closeStore(store: Store): void {
  store.doc.destroy();
}
