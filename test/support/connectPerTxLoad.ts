import pg from 'pg';

/**
 * A client that opens a new connection for every write (what a pool that reconnects sees),
 * through one connection string, with a connect timeout longer than the endpoint's hold.
 * Connect failures and statement failures are counted apart: a statement in flight on a
 * crashed primary fails whatever the endpoint does; a connect need not.
 */
export class ConnectPerTxLoad {
  readonly acked: number[] = [];
  readonly ackTimes: number[] = [];
  readonly ackPorts: number[] = [];
  readonly connectErrors: string[] = [];
  readonly statementErrors: string[] = [];
  /** When each connect or statement error happened (ms since epoch), in the order of both lists merged. */
  readonly errorTimes: number[] = [];
  private running = false;
  private done: Promise<void> | null = null;
  private next = 1;

  constructor(
    private readonly url: string,
    private readonly table = 'pgvigil_writes',
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

  private async loop(): Promise<void> {
    while (this.running) {
      const started = Date.now();
      const c = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 20_000 });
      c.on('error', () => {});
      const connected = await c.connect().then(
        () => true,
        (e: Error) => {
          this.connectErrors.push(e.message);
          this.errorTimes.push(Date.now());
          return false;
        },
      );
      const id = this.next++;
      if (connected) try {
        const r = await c.query<{ port: number }>(`INSERT INTO ${this.table} (id) VALUES ($1) RETURNING inet_server_port() AS port`, [id]);
        this.acked.push(id);
        this.ackTimes.push(Date.now());
        this.ackPorts.push(r.rows[0]?.port ?? 0);
      } catch (e) {
        this.statementErrors.push((e as Error).message);
        this.errorTimes.push(Date.now());
      }
      if (connected) await c.end().catch(() => {});
      const wait = this.everyMs - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
}
