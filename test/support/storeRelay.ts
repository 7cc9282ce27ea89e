import http from 'node:http';

/** One lease renewal (a PutItem of a lease item) as it crossed the relay. */
export interface SeenRenewal {
  node: string;
  version: number;
  /** The agent's wall clock when it built the renewal (the lease's own field). */
  renewedAt: number;
  /** What the relay did with this request: passed it on, answered a 500, held it unanswered, or cut its connection. */
  fate: 'passed' | 'error' | 'hung' | 'down';
}

export type CutHow = 'error' | 'hang';

/**
 * An HTTP relay in front of dynalite that passes every request on as it is, and on request
 * fails the store for exactly one lease renewal of a node: every request carrying that renewal
 * (the SDK's own retries of it send the same body) is answered with DynamoDB's 500
 * InternalServerError, or held unanswered until the client gives up (a hung request). Or it
 * fails everything (`down`): connections cut, as a store out of reach. It records each lease
 * renewal it sees, with the lease's own fields, so a test can count them.
 */
export class StoreRelay {
  private server: http.Server | null = null;
  private cut: { node: string; how: CutHow; renewedAt: number | null } | null = null;
  private down = false;
  readonly renewals: SeenRenewal[] = [];

  constructor(private readonly target: { host: string; port: number }) {}

  async listen(port: number): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks)));
    });
    await new Promise<void>((resolve, reject) => this.server!.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  }

  /** Fail the next lease renewal of `node` (and the SDK's retries of that same request); the ones after pass. */
  cutNextRenewal(node: string, how: CutHow): void {
    this.cut = { node, how, renewedAt: null };
  }

  /** The renewal that was cut, once one was. */
  cutRenewal(): SeenRenewal | undefined {
    return this.renewals.find((r) => r.fate !== 'passed' && r.fate !== 'down');
  }

  /** While down, every request's connection is cut before any answer. */
  setDown(down: boolean): void {
    this.down = down;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const renewal = req.headers['x-amz-target'] === 'DynamoDB_20120810.PutItem' ? leaseRenewalOf(body) : null;
    let fate: SeenRenewal['fate'] = 'passed';
    if (this.down) fate = 'down';
    else if (renewal && this.cut && this.cut.node === renewal.node && (this.cut.renewedAt ?? renewal.renewedAt) === renewal.renewedAt) {
      this.cut.renewedAt = renewal.renewedAt;
      fate = this.cut.how === 'error' ? 'error' : 'hung';
    }
    if (renewal) this.renewals.push({ ...renewal, fate });
    if (fate === 'down') return void req.socket.destroy();
    // Held: the client's own deadline ends it (its socket closes); nothing is answered.
    if (fate === 'hung') return;
    if (fate === 'error') {
      res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'relay-cut' });
      return void res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'cut by the test relay' }));
    }
    const up = http.request({ host: this.target.host, port: this.target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    up.end(body);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The lease fields of a PutItem body, when it writes a lease (a holder and a version); null otherwise. */
function leaseRenewalOf(body: Buffer): { node: string; version: number; renewedAt: number } | null {
  try {
    const item = (JSON.parse(body.toString('utf8')) as { Item?: Record<string, { S?: string; N?: string }> }).Item;
    if (!item?.['holder']?.S || !item['node']?.S || !item['version']?.N || !item['renewedAt']?.N) return null;
    return { node: item['node'].S, version: Number(item['version'].N), renewedAt: Number(item['renewedAt'].N) };
  } catch {
    return null;
  }
}
