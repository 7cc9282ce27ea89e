import http from 'node:http';

type Handler = (event: unknown) => Promise<unknown>;

/** One invocation the service ran: which function, how it was invoked, what it was given and answered. */
export interface Invocation {
  fn: string;
  mode: 'Event' | 'RequestResponse';
  event: unknown;
  done: boolean;
  answer?: unknown;
  error?: string;
}

/**
 * The Lambda Invoke API (POST /2015-03-31/functions/{name}/invocations) on 127.0.0.1, running
 * the registered handlers in this process, so the handlers' own Lambda clients (through
 * PGVIGIL_LAMBDA_ENDPOINT) invoke each other as on AWS: 'Event' is answered 202 at once and
 * run after; 'RequestResponse' is answered with the handler's result, or with
 * X-Amz-Function-Error: Unhandled when it throws. There is no Lambda emulator to use instead.
 */
export class LambdaService {
  readonly invocations: Invocation[] = [];
  private server: http.Server | null = null;
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly functions: Record<string, Handler>) {}

  async listen(port: number): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.serve(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    // Node closes an idle keep-alive connection after 5 s; a client sending on it just then gets
    // 'socket hang up', and the handlers' local-run Lambda client does not retry (maxAttempts 1):
    // in the EC2 lab an act's result to decide was lost so. Idle connections live a minute here.
    this.server.keepAliveTimeout = 60_000;
    this.server.headersTimeout = 65_000;
    await new Promise<void>((resolve, reject) => this.server!.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${port}`;
  }

  private async serve(req: http.IncomingMessage, body: string, res: http.ServerResponse): Promise<void> {
    const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? '');
    const fn = m ? decodeURIComponent(m[1]!) : '';
    const handler = this.functions[fn];
    if (req.method !== 'POST' || !handler) {
      res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' });
      res.end(JSON.stringify({ Type: 'User', message: `Function not found: ${fn}` }));
      return;
    }
    const mode = req.headers['x-amz-invocation-type'] === 'Event' ? 'Event' : 'RequestResponse';
    const invocation: Invocation = { fn, mode, event: JSON.parse(body) as unknown, done: false };
    this.invocations.push(invocation);
    const run = handler(invocation.event).then(
      (answer) => Object.assign(invocation, { done: true, answer }),
      (e: unknown) => Object.assign(invocation, { done: true, error: (e as Error).message }),
    );
    if (mode === 'Event') {
      const tracked = run.then(() => {}).finally(() => this.running.delete(tracked));
      this.running.add(tracked);
      res.writeHead(202, { 'content-length': '0' });
      res.end();
      return;
    }
    await run;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' };
    if (invocation.error !== undefined) headers['x-amz-function-error'] = 'Unhandled';
    res.writeHead(200, headers);
    res.end(JSON.stringify(invocation.error !== undefined ? { errorMessage: invocation.error, errorType: 'Error' } : (invocation.answer ?? null)));
  }

  /** Wait for the asynchronous invocations still running, then stop listening. */
  async close(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
