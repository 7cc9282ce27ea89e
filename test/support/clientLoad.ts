import pg from 'pg';

/**
 * A client that runs one statement every `everyMs` through one connection string (an
 * endpoint, a load balancer), reconnecting after any error, until stopped. WriteLoad and the
 * HAProxy test's read load say what the statement is and what they record.
 */
export abstract class ClientLoad {
  errors = 0;
  private running = false;
  private done: Promise<void> | null = null;

  constructor(
    protected readonly url: string,
    private readonly everyMs = 20,
  ) {}

  start(): void {
    this.running = true;
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  /** One statement on the open connection; a throw counts as an error and reconnects. */
  protected abstract step(client: pg.Client): Promise<void>;

  /** After a failed step, before reconnecting. */
  protected failed(): void {}

  private async loop(): Promise<void> {
    let client: pg.Client | null = null;
    while (this.running) {
      const started = Date.now();
      try {
        if (!client) {
          client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1_000, query_timeout: 2_000 });
          client.on('error', () => {});
          await client.connect();
        }
        await this.step(client);
      } catch {
        this.errors++;
        this.failed();
        const c = client;
        client = null;
        await c?.end().catch(() => {});
      }
      const wait = this.everyMs - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await client?.end().catch(() => {});
  }
}
