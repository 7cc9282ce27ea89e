import type { ClusterState } from '../domain/state.ts';
import type { EndpointDriver } from '../endpoints/driver.ts';
import type { Store } from '../store/store.ts';
import type { ControlMetrics } from './controlMetrics.ts';
import type { Log } from '../log.ts';
import type { SigningKey } from '../agent/agentClient.ts';


/**
 * Test-only fault injection: called after each step of a decide run; a hook that throws
 * makes the run die there, as a crashed Lambda would. Never set outside tests.
 */
export type FaultHook = (step: string) => void;

/** What the decide side of the control plane works with, on Lambda or in local mode. */
export interface ControlPlane {
  store: Store;
  /** Each node's HMAC key, by target (one Buffer: one key for every agent, as a lab may have). Never logged. */
  agentKey: SigningKey;
  /** The cluster CA's certificate (PEM): the agents serve HTTPS with certificates it issued. */
  agentCa?: string;
  /** Moves the writer/reader endpoints; null when this control plane has none. */
  endpoints: EndpointDriver | null;
  log: Log;
  /** Who is deciding (logged with each run). */
  decider: string;
  clock: () => number;
  faults?: FaultHook;
  /**
   * Lambda awaits every action before returning; local mode lets long actions (a rewind)
   * run in the background so probe rounds keep their pace.
   */
  awaitActions: boolean;
  /**
   * Set for decide on Lambda: pending intents are handed to the act function, which carries
   * each out and sends its result back as an actionResult command; the reactor then runs
   * nothing itself (awaitActions is moot). Absent: the reactor carries them out here.
   */
  handOff?: (cluster: string, pending: ClusterState['pending']) => Promise<void>;
  /**
   * The on-wake probe, started for one cluster: for an agent's wake (not waited for), or before an
   * operator command that finds no fresh observation (waited for). Absent: the probe runs all the
   * time, or nothing can start it.
   */
  runProbe?: (cluster: string, how: { wait: boolean; reasons: string[] }) => Promise<{ ok: true } | { ok: false; reason: string }>;
  /** Counts for the CloudWatch alarms (FailoverStarted); absent in local mode. */
  metrics?: ControlMetrics;
}
