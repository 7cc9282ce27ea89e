import type { ClientBase } from 'pg';
import { bigIntToLsn, lsnToBigInt } from '../domain/lsn.ts';

/** Size of the header at the start of every WAL page but a segment's first (SizeOfXLogShortPHD). */
const SHORT_PAGE_HEADER = 24n;

/**
 * The LSN a standby must have replayed to see a transaction that just committed on this session.
 *
 * Read right after COMMIT, on the same connection: the insert position is at or past the end
 * of our commit record whatever `synchronous_commit` says (the write and flush positions can
 * lag it when commits are asynchronous). Read inside the transaction it would be before the
 * commit record, and a standby at that point would not see the commit: a stale read.
 *
 * When the last record ended exactly at a page boundary, the insert position is reported past
 * the next page's header, which no replayed record reaches until more WAL is written: step
 * back over the header so the wait ends as soon as our record is replayed.
 */
export async function readCommitLsn(client: ClientBase): Promise<string> {
  const r = await client.query<{ lsn: string; block: string }>({
    name: 'pgvigil_commit_lsn',
    text: "SELECT pg_current_wal_insert_lsn()::text AS lsn, current_setting('wal_block_size') AS block",
  });
  const row = r.rows[0];
  if (!row) throw new Error('pg_current_wal_insert_lsn() returned no row');
  return replayTarget(row.lsn, BigInt(row.block));
}

export function replayTarget(insertLsn: string, walBlockSize: bigint): string {
  const at = lsnToBigInt(insertLsn);
  return at % walBlockSize === SHORT_PAGE_HEADER ? bigIntToLsn(at - SHORT_PAGE_HEADER) : insertLsn;
}
