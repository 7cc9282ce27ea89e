import pg from 'pg';

/**
 * A client that writes a numbered row every `everyMs` through one connection string
 * (the writer endpoint), reconnecting after errors, and records every acknowledged commit.
 */
export class WriteLoad {
  readonly acked: number[] = [];
  readonly ackTimes: number[] = [];
  /** The server port that acknowledged each write: which node took it. */
  readonly ackPorts: number[] = [];
  errors = 0;
  private running = false;
  private done: Promise<void> | null = null;
  private next = 1;

  constructor(
    private readonly url: string,
    private readonly table = 'pgvigil_writes',
    private readonly everyMs = 20,
  ) {}

  static async prepare(url: string, table = 'pgvigil_writes'): Promise<void> {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    // A server going away mid-test must fail the awaited call, not crash the process.
    c.on('error', () => {});
    await c.connect();
    try {
      await c.query(`CREATE TABLE IF NOT EXISTS ${table} (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`);
    } finally {
      await c.end();
    }
  }

  start(): void {
    this.running = true;
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  /** The time of the first acknowledged commit at or after `t` (ms since epoch), optionally only from another node than `notPort`. */
  firstAckAfter(t: number, notPort?: number): number | null {
    const i = this.ackTimes.findIndex((x, i) => x >= t && this.ackPorts[i] !== notPort);
    return i < 0 ? null : this.ackTimes[i]!;
  }

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
        const id = this.next;
        const r = await client.query<{ port: number }>(`INSERT INTO ${this.table} (id) VALUES ($1) ON CONFLICT (id) DO NOTHING RETURNING inet_server_port() AS port`, [id]);
        this.acked.push(id);
        this.ackTimes.push(Date.now());
        this.ackPorts.push(r.rows[0]?.port ?? 0);
        this.next++;
      } catch {
        this.errors++;
        // The row may or may not have committed: it was never acknowledged, so a later id is used.
        this.next++;
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

/** The acknowledged ids missing from `url`'s table. */
export async function missingAcked(url: string, acked: readonly number[], table = 'pgvigil_writes'): Promise<number[]> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  // A server going away mid-test must fail the awaited call, not crash the process.
  c.on('error', () => {});
  await c.connect();
  try {
    const { rows } = await c.query<{ id: string }>(`SELECT id FROM ${table}`);
    const have = new Set(rows.map((r) => Number(r.id)));
    return acked.filter((id) => !have.has(id));
  } finally {
    await c.end();
  }
}
