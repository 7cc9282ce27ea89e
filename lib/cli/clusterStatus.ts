import type { NodeObservation } from '../domain/observation.ts';
import { isDeposed, type ClusterState } from '../domain/state.ts';
import { staleAfterMs } from '../domain/spec.ts';
import { explainCandidates, explainFailover, type FailoverExplanation } from '../domain/explainFailover.ts';
import { viewNodes } from '../domain/view.ts';
import { renderTable } from './table.ts';

export interface NodeStatusRow {
  name: string;
  address: string;
  role: string;
  state: string;
  timeline: number | null;
  lagMb: number | null;
  lagSeconds: number | null;
  term: number | null;
  tags: string;
  lastSeen: string | null;
}

export interface ClusterStatus {
  cluster: string;
  mode: string;
  paused: boolean;
  term: number;
  primary: string | null;
  writer: string | null;
  readers: string[];
  failover: string | null;
  /** The failover in progress: its step, since when, what it waits for, what would end it. */
  failoverExplained: FailoverExplanation | null;
  /** Per standby, why it could not be promoted were the primary to fail now (null: it could). */
  candidates: { node: string; why: string | null }[];
  controlPlane: string;
  /** Agents whose clock was last measured beyond the skew they allow: every signed request to them is refused. */
  clockSkew: { node: string; skewMs: number; uncertaintyMs: number; maxSkewMs: number; since: string }[];
  nodes: NodeStatusRow[];
}

/** How old an observation `pgvigil status` still shows, with its age: two on-wake minute runs and some. */
const RECENT_MS = 150_000;

/** What `pgvigil status` shows: the log's view of the cluster joined with each node's latest observation. */
export function clusterStatus(state: ClusterState, observations: readonly NodeObservation[], now: number): ClusterStatus {
  const spec = state.spec;
  if (!spec) throw new Error('cluster not initialized');
  const latest = new Map<string, NodeObservation>();
  for (const o of observations) if (!latest.has(o.node) || latest.get(o.node)!.at < o.at) latest.set(o.node, o);
  const stale = staleAfterMs(spec.timing);
  const nodes = spec.nodes.map((n): NodeStatusRow => {
    const o = latest.get(n.name);
    const fresh = o && now - o.at <= stale;
    // Past the staleness bound but from the last few minutes: the on-wake probe writes a quiet
    // cluster once a minute, so its last word is shown with its age rather than as unseen.
    const recent = !!o && !fresh && now - o.at <= RECENT_MS;
    const shown = fresh || recent;
    const tags = [n.tags.priority !== 100 ? `priority=${n.tags.priority}` : '', n.tags.nofailover ? 'nofailover' : '', n.tags.nosync ? 'nosync' : '']
      .filter(Boolean)
      .join(',');
    let role: string = o && shown && o.reachable ? o.role : 'unknown';
    if (role === 'primary' && n.name !== state.primary) role = 'primary (deposed)';
    let st = !o || !shown ? 'unseen' : !o.reachable ? `down (${o.error?.kind ?? '?'})` : o.foreign ? 'foreign' : 'running';
    if (o && shown && o.reachable && o.role === 'standby') st = o.walReceiver?.status === 'streaming' ? `streaming from ${o.walReceiver.upstream ?? '?'}` : 'not streaming';
    if (isDeposed(state, n.name) && st.startsWith('down')) st += ', awaiting rewind';
    else if (st.startsWith('down') && state.pending.some((p) => p.intent.node === n.name && p.intent.action === 'follow')) st += `, being started as a standby of ${state.primary ?? '?'}`;
    if (recent) st += ` (last seen ${Math.round((now - o!.at) / 1000)} s ago)`;
    return {
      name: n.name,
      address: `${n.host}:${n.port}`,
      role,
      state: st,
      timeline: o?.timeline ?? null,
      lagMb: o?.lagBytes != null ? Math.round((o.lagBytes / 1048576) * 100) / 100 : null,
      lagSeconds: o?.lagSeconds ?? null,
      term: o?.lease?.term ?? null,
      tags,
      lastSeen: o ? new Date(o.at).toISOString() : null,
    };
  });
  const f = state.failover;
  const view = viewNodes(spec, observations, now);
  // Between on-wake runs nothing is fresh: the candidates are judged as of the last run.
  const newest = Math.max(-Infinity, ...[...latest.values()].map((o) => o.at));
  const quietSince = [...view.values()].every((v) => v.obs === null) && now - newest <= RECENT_MS ? newest : null;
  const candidateView = quietSince === null ? view : viewNodes(spec, observations, quietSince);
  return {
    cluster: state.cluster,
    mode: spec.replication.mode === 'synchronous' ? `synchronous ANY ${spec.replication.quorum}` : `async (max lag on failover ${spec.replication.maximumLagOnFailover} B)`,
    paused: state.paused,
    term: state.term,
    primary: state.primary,
    writer: state.writer,
    readers: state.readers,
    failover: f ? `${f.kind} ${f.from} → ${f.to}, term ${f.term}, step ${f.step}` : null,
    failoverExplained: explainFailover(state, view, now),
    candidates: f ? [] : explainCandidates(state, candidateView),
    controlPlane: state.blindReported
      ? 'BLIND: no node answers'
      : state.blind
        ? `no node answered the last probe round (blind once every node fails ${spec.timing.failureThreshold} in a row)`
        : nodes.some((n) => n.lastSeen && now - Date.parse(n.lastSeen) <= stale)
          ? 'healthy'
          : quietSince !== null
            ? `quiet: last probed ${Math.round((now - quietSince) / 1000)} s ago (the on-wake probe looks each minute, and when an agent wakes it)`
            : 'no fresh observations',
    clockSkew: Object.entries(state.clockSkew).map(([node, c]) => ({ node, skewMs: c.skewMs, uncertaintyMs: c.uncertaintyMs, maxSkewMs: c.maxSkewMs, since: new Date(c.since).toISOString() })),
    nodes,
  };
}

export function renderClusterStatus(s: ClusterStatus): string {
  const head = [
    `Cluster ${s.cluster}  term ${s.term}  mode ${s.mode}${s.paused ? '  PAUSED (maintenance mode)' : ''}`,
    `Writer -> ${s.writer ?? 'none'}   Readers -> ${s.readers.join(', ') || 'writer'}   Control plane: ${s.controlPlane}`,
    ...(s.failover ? [`In progress: ${s.failover}${s.failoverExplained?.since ? ` since ${new Date(s.failoverExplained.since).toISOString().slice(11, 19)}` : ''}`] : []),
    ...(s.failoverExplained ? [`  waits for: ${s.failoverExplained.waitsFor}`, `  ends with: ${s.failoverExplained.endsWhen}`] : []),
    ...(s.candidates.length > 0 && s.candidates.every((c) => c.why !== null)
      ? ['No failover possible now, were the primary to fail:', ...s.candidates.map((c) => `  ${c.node}: ${c.why}`)]
      : []),
    ...s.clockSkew.map(
      (c) =>
        `CLOCK SKEW: ${c.node}'s agent is ${(Math.abs(c.skewMs) / 1000).toFixed(1)} s ${c.skewMs >= 0 ? 'ahead of' : 'behind'} the control plane (±${c.uncertaintyMs} ms), beyond the ${c.maxSkewMs} ms it allows: it refuses every action (since ${c.since.slice(11, 19)})`,
    ),
    '',
  ];
  const rows = s.nodes.map((n) => [
    n.name,
    n.address,
    n.role,
    n.state,
    n.timeline === null ? '' : String(n.timeline),
    n.lagMb === null ? '' : String(n.lagMb),
    n.lagSeconds === null ? '' : n.lagSeconds.toFixed(1),
    n.term === null ? '' : String(n.term),
    n.tags,
    n.lastSeen ? n.lastSeen.slice(11, 23) : 'never',
  ]);
  return head.join('\n') + renderTable(['NODE', 'HOST:PORT', 'ROLE', 'STATE', 'TL', 'LAG MB', 'LAG S', 'TERM', 'TAGS', 'LAST SEEN'], rows);
}
