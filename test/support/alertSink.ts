import http from 'node:http';
import { randomUUID } from 'node:crypto';

/** One alert the notify function published: the SNS Publish parameters. */
export interface PublishedAlert {
  topicArn: string;
  subject: string;
  message: string;
}

/**
 * Where the notify function's SNS and EventBridge clients are pointed (AWS_ENDPOINT_URL_SNS,
 * AWS_ENDPOINT_URL_EVENTBRIDGE) when it runs off AWS: it answers SNS Publish (query protocol,
 * XML) and EventBridge PutEvents (JSON 1.1) as those services do, and keeps what it was sent.
 * Nothing else is served; any other call is answered 400 so a handler's change shows.
 */
export class AlertSink {
  readonly alerts: PublishedAlert[] = [];
  readonly busEvents: { source: string; detailType: string; detail: unknown }[] = [];
  private server: http.Server | null = null;

  async listen(host: string, port: number): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.serve(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve, reject) => this.server!.once('error', reject).listen(port, host, () => resolve()));
    return `http://${host}:${port}`;
  }

  private serve(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    if (req.headers['x-amz-target'] === 'AWSEvents.PutEvents') {
      const entries = (JSON.parse(body) as { Entries?: { Source?: string; DetailType?: string; Detail?: string }[] }).Entries ?? [];
      for (const e of entries) this.busEvents.push({ source: e.Source ?? '', detailType: e.DetailType ?? '', detail: e.Detail ? (JSON.parse(e.Detail) as unknown) : null });
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: randomUUID() })) }));
      return;
    }
    const form = new URLSearchParams(body);
    if (form.get('Action') === 'Publish') {
      this.alerts.push({ topicArn: form.get('TopicArn') ?? '', subject: form.get('Subject') ?? '', message: form.get('Message') ?? '' });
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(`<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${randomUUID()}</MessageId></PublishResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`);
      return;
    }
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`the alert sink answers SNS Publish and EventBridge PutEvents only (got ${req.headers['x-amz-target'] ?? form.get('Action') ?? 'nothing'})`);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
