import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';

export type InvokeMode = 'Event' | 'RequestResponse';
export type Invoked = { ok: true; answer: unknown } | { ok: false; reason: string };
/** One Lambda invoke: 'Event' is queued by Lambda and answered at once (no answer), 'RequestResponse' waits for the function's answer. */
export type Invoke = (functionName: string, payload: unknown, mode: InvokeMode) => Promise<Invoked>;

/**
 * The Lambda API client the handlers invoke each other with. Time limits, so a hand-off in a
 * subnet without a route to Lambda fails in seconds instead of holding decide to its timeout;
 * the request limit covers decide's answer to an action result (a decide run, well under its
 * 60 s timeout). `endpoint` is for local runs of the handlers.
 */
export function lambdaClient(region: string, endpoint?: string): LambdaClient {
  return new LambdaClient({
    region,
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 65_000, throwOnRequestTimeout: true },
    ...(endpoint ? { endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 } : {}),
  });
}

export function lambdaInvoker(client: LambdaClient): Invoke {
  return async (functionName, payload, mode) => {
    try {
      const out = await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: mode, Payload: Buffer.from(JSON.stringify(payload)) }));
      const text = out.Payload && out.Payload.length > 0 ? Buffer.from(out.Payload).toString('utf8') : '';
      if (out.FunctionError) return { ok: false, reason: `${functionName} failed (${out.FunctionError}): ${text.slice(0, 500)}` };
      if (mode === 'Event') return { ok: true, answer: null };
      return { ok: true, answer: text === '' ? null : (JSON.parse(text) as unknown) };
    } catch (e) {
      return { ok: false, reason: `invoking ${functionName}: ${(e as Error).name}: ${(e as Error).message}` };
    }
  };
}
