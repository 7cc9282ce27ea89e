import type { Store } from './store.ts';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);

type ErrorLike = { name?: unknown; code?: unknown; message?: unknown; errors?: unknown };

function asErrorLike(err: unknown): ErrorLike {
  return typeof err === 'object' && err !== null ? (err as ErrorLike) : { message: String(err) };
}

/** True when the request never got an answer from the store: refused, reset, timed out. */
export function isUnreachable(err: unknown): boolean {
  const e = asErrorLike(err);
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  if (e.name === 'TimeoutError' || e.name === 'RequestTimeout') return true;
  if (typeof e.message === 'string' && /socket hang up|ECONNREFUSED|ECONNRESET/.test(e.message)) return true;
  // Node reports a refused dual-stack connect as an AggregateError of per-address errors.
  if (Array.isArray(e.errors)) return e.errors.some(isUnreachable);
  return false;
}

export function isConditionalCheckFailed(err: unknown): boolean {
  return asErrorLike(err).name === 'ConditionalCheckFailedException';
}

function describe(err: unknown): string {
  const e = asErrorLike(err);
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : typeof e.code === 'string' ? e.code : 'unknown error';
  return typeof e.name === 'string' && e.name !== 'Error' && !message.startsWith(e.name) ? `${e.name}: ${message}` : message;
}

/** Turn an SDK exception into a reason a person can act on. `doing` says what the store was doing. */
export function storeFailure(store: Store, err: unknown, doing: string): string {
  const e = asErrorLike(err);
  if (isUnreachable(err)) return `store unreachable: ${doing}: ${describe(err)} (is dynalite/DynamoDB running at ${store.where}?)`;
  if (e.name === 'ResourceNotFoundException') {
    return `store table "${store.table}" not found at ${store.where} while ${doing}: create it with ensureTable (pgvigil up does) or deploy the stack`;
  }
  const status = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  if ((e.name === 'UnknownError' || e.name === 'Unknown') && status !== undefined) {
    return `store error while ${doing}: ${store.where} answered HTTP ${status}, which no DynamoDB API gives (is the endpoint right?)`;
  }
  if (e.name === 'CredentialsProviderError') return `store credentials missing while ${doing}: set AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID) or an endpoint for dynalite`;
  return `store error while ${doing}: ${describe(err)}`;
}
