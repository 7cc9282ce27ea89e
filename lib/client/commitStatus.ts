import type { ClientBase } from 'pg';
import { lsnToBigInt } from '../domain/lsn.ts';

/** What a transaction is known by before its COMMIT is sent: its id, and where its records end. */
export interface PendingCommit {
  txid: string;
  /** The WAL insert position before COMMIT: every record of the transaction but the commit is before it. */
  beforeCommitLsn: string;
  /** This server run (address, port, postmaster start): transaction ids never repeat within one. */
  server: string;
}

const SERVER_RUN = "coalesce(host(inet_server_addr()), 'socket') || ':' || coalesce(inet_server_port()::text, '') || ' since ' || pg_postmaster_start_time()::text";

export async function readPendingCommit(client: ClientBase): Promise<PendingCommit> {
  const r = await client.query<{ txid: string; lsn: string; server: string }>({
    name: 'pgvigil_pending_commit',
    text: `SELECT txid_current()::text AS txid, pg_current_wal_insert_lsn()::text AS lsn, ${SERVER_RUN} AS server`,
  });
  const row = r.rows[0];
  if (!row) throw new Error('txid_current() returned no row');
  return { txid: row.txid, beforeCommitLsn: row.lsn, server: row.server };
}

export type CommitStatus = 'committed' | 'not committed' | 'in progress';

/**
 * The fate of an interrupted COMMIT, asked on whatever server the writer endpoint now reaches
 * (the new primary after a failover, the same one after a dropped connection).
 *
 * On another server run (a promoted standby, or the same server after a crash) whose recovery
 * ended before `beforeCommitLsn`, the commit record (which comes after) never arrived, and the
 * same transaction id may since have gone to another transaction: that is "not committed"
 * whatever pg_xact_status says. An id the server has not reached yet ("in the future") was
 * never seen there: not committed either.
 */
export async function commitStatusOn(client: ClientBase, pending: PendingCommit): Promise<CommitStatus> {
  try {
    const r = await client.query<{ status: string | null; replayed: string | null; server: string; standby: boolean }>({
      name: 'pgvigil_commit_status',
      text: `SELECT pg_xact_status($1::text::xid8) AS status, pg_last_wal_replay_lsn()::text AS replayed, ${SERVER_RUN} AS server, pg_is_in_recovery() AS standby`,
      values: [pending.txid],
    });
    const row = r.rows[0];
    // Only a primary knows every commit: a standby (the endpoint not moved yet) is asked again later.
    if (row?.standby) return 'in progress';
    const otherRun = row !== undefined && row.server !== pending.server;
    if (otherRun && row.replayed && lsnToBigInt(row.replayed) < lsnToBigInt(pending.beforeCommitLsn)) return 'not committed';
    if (row?.status === 'committed') return 'committed';
    if (row?.status === 'in progress') return 'in progress';
    // 'aborted', or null: too old to know. An aborted or crashed transaction's changes are gone.
    if (row?.status === 'aborted') return 'not committed';
    throw new Error(`pg_xact_status(${pending.txid}) is unknown: the transaction id is too old to check`);
  } catch (err) {
    // 22023: "transaction ID … is in the future".
    if ((err as { code?: unknown }).code === '22023') return 'not committed';
    throw err;
  }
}

/**
 * Thrown by `transaction()` when its COMMIT was interrupted and the transaction did not
 * commit (`committed: false`), or its fate could not be learned before the retry bound
 * (`committed: null`). When it did commit, `transaction()` returns as usual.
 */
export class InterruptedCommitError extends Error {
  constructor(
    readonly committed: false | null,
    readonly txid: string,
    override readonly cause: unknown,
  ) {
    super(
      committed === false
        ? `COMMIT was interrupted (${(cause as Error)?.message ?? cause}) and transaction ${txid} did not commit: it is safe to run it again`
        : `COMMIT was interrupted (${(cause as Error)?.message ?? cause}) and whether transaction ${txid} committed could not be learned in time: check before running it again`,
    );
    this.name = 'InterruptedCommitError';
  }
}
