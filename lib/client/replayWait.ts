import type { ClientBase } from 'pg';
import { lsnToBigInt } from '../domain/lsn.ts';

/** Stands for "this server is a primary": it has every commit it acknowledged. */
const PRIMARY = 1n << 64n;

/**
 * Highest replay position seen per connection. A server's replay position never moves back
 * while a session lives (a rewind needs a restart, which ends the session), so a connection
 * known to be past an LSN needs no new question.
 */
const seen = new WeakMap<ClientBase, bigint>();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `ready`: replayed at first ask; `waited`: replayed after polling; `behind`: the bound passed. */
export type ReplayWait = 'ready' | 'waited' | 'behind';

/**
 * Waits until the server behind this very connection has replayed `after`, asking every
 * `pollMs`, at most `timeoutMs`.
 */
export async function waitForReplay(client: ClientBase, after: bigint, timeoutMs: number, pollMs: number): Promise<ReplayWait> {
  if ((seen.get(client) ?? -1n) >= after) return 'ready';
  const deadline = performance.now() + timeoutMs;
  for (let asked = 0; ; asked++) {
    const r = await client.query<{ standby: boolean; replay: string | null }>({
      name: 'pgvigil_replay_lsn',
      text: 'SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replay',
    });
    const row = r.rows[0];
    const position = !row ? -1n : !row.standby ? PRIMARY : row.replay ? lsnToBigInt(row.replay) : -1n;
    seen.set(client, position);
    if (position >= after) return asked === 0 ? 'ready' : 'waited';
    const left = deadline - performance.now();
    if (left <= 0) return 'behind';
    await sleep(Math.min(pollMs, left));
  }
}
