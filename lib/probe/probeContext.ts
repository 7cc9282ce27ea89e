import type { NodeObservation } from '../domain/observation.ts';
import type { Lease } from '../store/leases.ts';
import type { ProbeTls } from './probeLogin.ts';

/** What the prober knows between rounds; time only from `now`, never from Date.now(). */
export interface ProbeContext {
  /** Who probes (written into every observation). */
  prober: string;
  now: () => number;
  /** Each node's observation from the previous round (not merely the last one written). */
  previous: Map<string, NodeObservation>;
  /** The cluster's system identifier, when known: a node with another one is foreign. */
  systemIdentifier?: string | null;
  /** Each agent's lease as last read from the store. */
  leases?: ReadonlyMap<string, Pick<Lease, 'version' | 'term' | 'members' | 'ttlMs' | 'selfFenced'>>;
  /** Connection credentials; default user and database 'postgres'. The password is never logged. */
  user?: string;
  password?: string;
  database?: string;
  ssl?: ProbeTls;
}
