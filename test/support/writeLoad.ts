import pg from 'pg';
import { ClientLoad } from './clientLoad.ts';

/** Writes a numbered row every `everyMs` through the writer endpoint and records every acknowledged commit. */
export class WriteLoad extends ClientLoad {
  readonly acked: number[] = [];
  readonly ackTimes: number[] = [];
  /** The server port that acknowledged each write: which node took it. */
  readonly ackPorts: number[] = [];
  private next = 1;

  constructor(
    url: string,
    private readonly table = 'pgvigil_writes',
    everyMs = 20,
  ) {
    super(url, everyMs);
  }

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

  /** The time of the first acknowledged commit at or after `t` (ms since epoch), optionally only from another node than `notPort`. */
  firstAckAfter(t: number, notPort?: number): number | null {
    const i = this.ackTimes.findIndex((x, i) => x >= t && this.ackPorts[i] !== notPort);
    return i < 0 ? null : this.ackTimes[i]!;
  }

  protected async step(client: pg.Client): Promise<void> {
    const id = this.next;
    const r = await client.query<{ port: number }>(`INSERT INTO ${this.table} (id) VALUES ($1) ON CONFLICT (id) DO NOTHING RETURNING inet_server_port() AS port`, [id]);
    this.acked.push(id);
    this.ackTimes.push(Date.now());
    this.ackPorts.push(r.rows[0]?.port ?? 0);
    this.next++;
  }

  // The row may or may not have committed: it was never acknowledged, so a later id is used.
  protected override failed(): void {
    this.next++;
  }
}

/** The ids acknowledged before this call that are missing from `url`'s table. */
export async function missingAcked(url: string, acked: readonly number[], table = 'pgvigil_writes'): Promise<number[]> {
  // A copy now: a running load keeps pushing ids acknowledged after the SELECT's snapshot, which the live array would count as lost.
  const want = [...acked];
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  // A server going away mid-test must fail the awaited call, not crash the process.
  c.on('error', () => {});
  await c.connect();
  try {
    const { rows } = await c.query<{ id: string }>(`SELECT id FROM ${table}`);
    const have = new Set(rows.map((r) => Number(r.id)));
    return want.filter((id) => !have.has(id));
  } finally {
    await c.end();
  }
}
