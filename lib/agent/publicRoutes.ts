import type { IncomingMessage } from 'node:http';

/**
 * The agent's unauthenticated, read-only face (health checks for load balancers, metrics for
 * Prometheus): GET, HEAD and OPTIONS only, never a secret in an answer, never a state change.
 * Everything that acts stays behind the signed `POST /v1/actions/<action>`.
 */
export type PublicMethod = 'GET' | 'HEAD' | 'OPTIONS';

export interface PublicRequest {
  method: PublicMethod;
  /** The path without its query, e.g. `/replica`. */
  path: string;
  query: URLSearchParams;
}

export interface PublicAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** Answers the paths it knows, null for the rest (the next route is asked). */
export type PublicRoute = (req: PublicRequest) => Promise<PublicAnswer | null>;

export function publicRequestOf(req: IncomingMessage): PublicRequest | null {
  const method = req.method;
  if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') return null;
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://agent');
  } catch {
    return null;
  }
  return { method, path: url.pathname, query: url.searchParams };
}
