import type { NodeObservation } from '../domain/observation.ts';
import type { ClusterSpec } from '../domain/spec.ts';
import type { ClusterState } from '../domain/state.ts';
import { readLeases, type Lease } from '../store/leases.ts';
import { latestObservations, OBSERVATION_WINDOW_MS, putObservation } from '../store/observations.ts';
import type { Store } from '../store/store.ts';
import { failureDeadlines, shouldWrite } from './edgeTrigger.ts';
import { probeRound } from './probeRound.ts';
import type { ProbeLogin } from './probeLogin.ts';

export interface ProberOptions {
  store: Store;
  /** Written into every observation: who saw it. */
  prober: string;
  clock: () => number;
  /** How long DynamoDB keeps an observation (TTL); local mode prunes by the same age. */
  observationTtlMs?: number;
  /**
   * Leases are read at most this often: seeing a renewal late only delays lease expiry, which
   * is the safe side. A read that fails is not late: it keeps nothing (the leases are unknown
   * until a read succeeds, and a lease seen again counts as changing then), never quiet.
   */
  leaseReadEveryMs?: number;
  /** The monitoring role's login (lib/probe/probeLogin.ts); absent: the superuser, no TLS (tests of old layouts). */
  credentials?: ProbeLogin;
}

export type RoundResult = { observations: NodeObservation[]; written: number; storeError: string | null };

export const DEFAULT_OBSERVATION_TTL_MS = 24 * 3600_000;

/**
 * The probe side of the control plane for one cluster: probes every node, remembers each
 * node's previous observation (failure counts, last known LSN, lease changes), and writes
 * an observation only when it changed or its heartbeat is due.
 */
export class Prober {
  private readonly previous = new Map<string, NodeObservation>();
  private readonly written = new Map<string, NodeObservation>();
  private leases: ReadonlyMap<string, Lease> = new Map();
  private leasesReadAt = -Infinity;
  private seeded = false;

  constructor(private readonly opts: ProberOptions) {}

  /** Resume counts from the store after a restart (a new Lambda container), so a failure run is not forgotten. */
  private async seed(cluster: string): Promise<void> {
    if (this.seeded) return;
    const read = await latestObservations(this.opts.store, cluster, this.opts.clock() - OBSERVATION_WINDOW_MS);
    if (!read.ok) return;
    for (const o of read.observations) {
      this.previous.set(o.node, o);
      this.written.set(o.node, o);
    }
    this.seeded = true;
  }

  async round(spec: ClusterSpec, state: ClusterState | null): Promise<RoundResult> {
    const { store, clock } = this.opts;
    await this.seed(spec.cluster);
    let storeError: string | null = null;
    if (clock() - this.leasesReadAt >= (this.opts.leaseReadEveryMs ?? 1_000)) {
      const read = await readLeases(store, spec.cluster, spec.nodes.map((n) => n.name));
      if (read.ok) {
        this.leases = new Map(read.leases.map((l) => [l.node, l]));
        this.leasesReadAt = clock();
      } else {
        // Unknown, never quiet (rule 3): the old map would carry every lease's last change into
        // observations of rounds that could not see it, so each would look lapsed.
        this.leases = new Map();
        storeError = read.reason;
      }
    }
    const primary = state?.primary ? this.previous.get(state.primary) : undefined;
    const observations = await probeRound(spec, {
      prober: this.opts.prober,
      now: clock,
      previous: this.previous,
      systemIdentifier: primary?.reachable ? primary.systemIdentifier : (this.systemIdentifier ?? null),
      leases: this.leases,
      ...this.opts.credentials,
    });
    let written = 0;
    for (const o of observations) {
      this.previous.set(o.node, o);
      if (o.reachable && o.role === 'primary' && o.node === state?.primary && o.systemIdentifier) this.systemIdentifier = o.systemIdentifier;
      const trigger = {
        heartbeatMs: spec.timing.heartbeatMs,
        readLagLimit: spec.readLagLimit,
        failureThreshold: spec.timing.failureThreshold,
        leaseTtlMs: spec.timing.leaseTtlMs,
        deadlines: failureDeadlines(o, observations, spec.timing),
      };
      if (!shouldWrite(this.written.get(o.node) ?? null, o, trigger)) continue;
      const put = await putObservation(store, o, this.opts.observationTtlMs ?? DEFAULT_OBSERVATION_TTL_MS);
      if (put.ok) {
        this.written.set(o.node, o);
        written++;
      } else {
        storeError = put.reason;
      }
    }
    return { observations, written, storeError };
  }

  private systemIdentifier: string | null = null;
}
