/**
 * The wire of an AWS SDK v3 client, cut just before the network: a middleware added last
 * in the deserialize step (so after the SDK's serializer, endpoint resolution and signer
 * in build/finalizeRequest, and inside its deserializer) records each serialized HTTP
 * request and answers it with a canned HTTP response, which the SDK's own deserializer
 * then parses. A middleware in build or finalizeRequest would return past the
 * deserializer. Nothing of ours is mocked; nothing leaves the process.
 */
export interface WireRequest {
  method: string;
  hostname: string;
  path: string;
  query: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body: string;
}

export interface WireResponse {
  statusCode: number;
  headers?: Record<string, string>;
  body: string;
}

interface MiddlewareClient {
  middlewareStack: { add: (mw: any, opts: { step: 'deserialize'; priority: 'low'; name: string }) => void };
}

export function cutWire(client: MiddlewareClient, respond: (req: WireRequest) => WireResponse): WireRequest[] {
  const seen: WireRequest[] = [];
  client.middlewareStack.add(
    () => async (args: { request: any }) => {
      const r = args.request;
      const body = typeof r.body === 'string' ? r.body : r.body === undefined ? '' : Buffer.from(r.body).toString('utf8');
      const req: WireRequest = { method: r.method, hostname: r.hostname, path: r.path, query: r.query ?? {}, headers: r.headers, body };
      seen.push(req);
      const res = respond(req);
      return {
        response: {
          statusCode: res.statusCode,
          reason: undefined,
          headers: { 'content-type': 'text/xml', 'x-amzn-requestid': `req-${seen.length}`, ...res.headers },
          body: Buffer.from(res.body, 'utf8'),
        },
      };
    },
    { step: 'deserialize', priority: 'low', name: 'pgvigilCutWire' },
  );
  return seen;
}

/** Credentials and region so the SDK signs offline; never valid anywhere. */
export const offlineClientConfig = {
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIAOFFLINETEST', secretAccessKey: 'offline-test-secret' },
  maxAttempts: 1,
};
