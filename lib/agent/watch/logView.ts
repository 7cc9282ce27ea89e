import type { ClusterSpec } from '../../domain/spec.ts';
import type { Log } from '../../log.ts';
import type { Store } from '../../store/store.ts';
import { ClusterMembers } from '../clusterMembers.ts';

/** The log's tail is read at most this often for the watch (each read is one query). */
export const LOG_READ_EVERY_MS = 30_000;
/** A read that does not settle within this long counts as failed; the last view is kept. */
const LOG_READ_TIMEOUT_MS = 5_000;

/**
 * The watch's view of the decision log: the spec (timing, nodes, agent URLs) and the primary of
 * its term. Its own ClusterMembers, kept in memory only (the lease loop's instance writes the
 * state directory's members.json). Read at start, then at most every 30 s; and once at once when
 * the agent admits a term newer than the log's as last read (a failover or switchover acted on
 * this node: the log has a new primary, and checking the old one would only wake the probe
 * for nothing). That read happens once per term, so it stays as rare as changes of primary.
 */
export class LogView {
  private readonly members: ClusterMembers;
  private readAt = -Infinity;
  private readForTerm = -1;
  private reading: Promise<void> | null = null;
  private failing = false;

  constructor(
    private readonly store: Store,
    cluster: string,
    node: string,
    private readonly log: Log,
  ) {
    this.members = new ClusterMembers(cluster, node, null);
  }

  get spec(): ClusterSpec | null {
    return this.members.spec;
  }

  get primary(): string | null {
    return this.members.primary;
  }

  /** Starts a read in the background when one is due; never waits for it. */
  refreshIfDue(agentTerm: number): void {
    if (this.reading) return;
    const logTerm = this.members.term;
    const moved = logTerm !== null && agentTerm > logTerm && this.readForTerm !== agentTerm;
    if (!moved && performance.now() - this.readAt < LOG_READ_EVERY_MS) return;
    this.readAt = performance.now();
    if (moved) this.readForTerm = agentTerm;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<{ ok: false; reason: string }>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reason: `the store did not answer the decision log read within ${LOG_READ_TIMEOUT_MS} ms` }), LOG_READ_TIMEOUT_MS);
    });
    const read = this.members.refresh(this.store).catch((e: unknown) => ({ ok: false as const, reason: String(e) }));
    this.reading = Promise.race([read, late])
      .then((r) => {
        if (!r.ok && !this.failing) this.log({ level: 'warn', msg: 'watch: the decision log could not be read: keeping the last view', reason: r.reason, primary: this.primary });
        this.failing = !r.ok;
      })
      .finally(() => {
        clearTimeout(timer);
        this.reading = null;
      });
  }

  /** Waits for a read in flight (at stop). */
  async settle(): Promise<void> {
    await this.reading;
  }
}
