import type { FenceMarker } from '../fenceMarker.ts';
import type { PgServer } from '../../postgres/pgServer.ts';
import { readServerState } from '../serverState.ts';
import { judge, pgState, type HealthSnapshot } from '../health/nodeHealth.ts';
import type { Finding } from './findings.ts';

/**
 * What the decision log says this node is: its primary, one of its standbys, or not known yet
 * (no spec read, or no primary in the log), when answering at all is all that is asked.
 */
export type ExpectedRole = 'primary' | 'standby' | 'unknown';

// The health route each expectation is judged by: the same verdicts HAProxy and the probe's
// load balancer see, computed in process from the same reads.
const PATH: Record<ExpectedRole, string> = { primary: '/primary', standby: '/replica', unknown: '/health' };
const AS: Record<ExpectedRole, string> = { primary: "the log's primary", standby: 'a standby in the log', unknown: 'PostgreSQL here' };

/**
 * Does PostgreSQL here answer, as what the log says it is, and (a standby) does its WAL
 * receiver stream? One state read within `timeoutMs` (readServerState, as the health routes
 * and the metrics read it) and the fence marker; null when nothing is wrong.
 */
export async function checkOwnPostgres(o: { pg: PgServer; fence: FenceMarker; cluster: string; node: string; term: number; expected: ExpectedRole; timeoutMs: number }): Promise<Finding | null> {
  const [server, fenced] = await Promise.all([readServerState(o.pg, o.timeoutMs), o.fence.get()]);
  const snap: HealthSnapshot = { cluster: o.cluster, node: o.node, server, extras: null, fenced, term: o.term, pendingActions: 0 };
  const verdict = judge(PATH[o.expected], new URLSearchParams(), snap);
  if (verdict === null || verdict.status === 200) return null;
  const state = pgState(server);
  if (state !== 'running') return { kind: 'postgres_down', what: `${AS[o.expected]}: PostgreSQL is ${state}${server.why && server.why !== 'not running' ? ` (${server.why})` : ''}` };
  if (fenced) return { kind: 'fenced', what: `${AS[o.expected]}: fenced at term ${fenced.term}` };
  if (o.expected === 'standby' && server.inRecovery === true) return { kind: 'not_streaming', what: `${AS[o.expected]}: ${verdict.reason}` };
  return { kind: 'wrong_role', what: `${AS[o.expected]}: ${verdict.reason}` };
}
