import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FailoverKind } from '../domain/events.ts';
import { ProbeErrorKind } from '../domain/observation.ts';
import type { ClusterSpec } from '../domain/spec.ts';
import { failoverSeconds, type ControlMetrics } from './controlMetrics.ts';

export interface PromControlMetrics extends ControlMetrics {
  registry: Registry;
}

const ROUND_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2];
/** Local crash failovers take about a second, AWS ones several, a switchover with a lagging candidate longer. */
const FAILOVER_BUCKETS = [0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120];
const FAILOVER_OUTCOMES = { FailoverStarted: 'started', FailoverCompleted: 'completed', FailoverAborted: 'aborted' } as const;

/**
 * The control plane's figures for Prometheus (local mode), in a registry of its own, every
 * series labelled with its cluster. `probesBlind` and `failoverStarted` are the EMF counts the
 * AWS alarms read; here the same facts come from `probeRound` and `decideRun`, so they are not
 * counted twice.
 */
export function promControlMetrics(): PromControlMetrics {
  const registry = new Registry();
  const registers = [registry];
  const rounds = new Histogram({ name: 'pgvigil_probe_round_duration_seconds', help: 'How long a probe round took, all nodes probed at once', labelNames: ['cluster'], buckets: ROUND_BUCKETS, registers });
  const failures = new Counter({ name: 'pgvigil_probe_failures_total', help: 'Failed probes by node and kind (refused: a crash; timeout: silence; auth; other)', labelNames: ['cluster', 'node', 'kind'], registers });
  const storeErrors = new Counter({ name: 'pgvigil_probe_store_errors_total', help: 'Probe rounds that could not read leases or write observations', labelNames: ['cluster'], registers });
  const blindRounds = new Counter({ name: 'pgvigil_probe_blind_rounds_total', help: 'Probe rounds that reached no node, or not the store', labelNames: ['cluster'], registers });
  const reachable = new Gauge({ name: 'pgvigil_probe_node_reachable', help: "1 when the last probe reached the node's PostgreSQL", labelNames: ['cluster', 'node'], registers });
  const lagBytes = new Gauge({ name: 'pgvigil_probe_node_lag_bytes', help: "A standby's replay position behind its primary, as the last probe saw it", labelNames: ['cluster', 'node'], registers });
  const lagSeconds = new Gauge({ name: 'pgvigil_probe_node_lag_seconds', help: "A standby's time since its last replayed transaction, as the last probe saw it", labelNames: ['cluster', 'node'], registers });
  const readLagLimit = new Gauge({ name: 'pgvigil_read_lag_limit_bytes', help: "The spec's readLagLimit: a standby further behind leaves the reader endpoint", labelNames: ['cluster'], registers });
  const failoverLagLimit = new Gauge({ name: 'pgvigil_failover_lag_limit_bytes', help: "Async mode: the spec's maximumLagOnFailover, beyond which a standby is no candidate", labelNames: ['cluster'], registers });
  const decideRuns = new Counter({ name: 'pgvigil_decide_runs_total', help: 'Decide runs by command and outcome (appended, unchanged, refused, failed)', labelNames: ['cluster', 'command', 'outcome'], registers });
  const failovers = new Counter({ name: 'pgvigil_failovers_total', help: 'Failovers by kind (failover, switchover, manual) and outcome (started, completed, aborted, impossible)', labelNames: ['cluster', 'kind', 'outcome'], registers });
  const failoverDuration = new Histogram({ name: 'pgvigil_failover_duration_seconds', help: 'Completed changes of primary, from the decision to start one to the endpoints moved (detection before it not included)', labelNames: ['cluster', 'kind'], buckets: FAILOVER_BUCKETS, registers });
  const term = new Gauge({ name: 'pgvigil_cluster_term', help: "The cluster's term after the last decide run", labelNames: ['cluster'], registers });
  const blind = new Gauge({ name: 'pgvigil_control_plane_blind', help: '1 while the control plane cannot read its store or log, or its last probe round reached no node', labelNames: ['cluster'], registers });

  const troubled = new Map<string, boolean>();
  const sawNothing = new Map<string, boolean>();
  const nodes = new Map<string, Set<string>>();
  const setBlind = (cluster: string) => blind.set({ cluster }, troubled.get(cluster) || sawNothing.get(cluster) ? 1 : 0);
  // Counters start at 0 for every label set an alert reads: increase() cannot see the first
  // step of a series that appears with the value 1.
  const known = new Set<string>();
  const initialize = (spec: ClusterSpec) => {
    const key = `${spec.cluster}\0${spec.nodes.map((n) => n.name).join('\0')}`;
    if (known.has(key)) return;
    known.add(key);
    const cluster = spec.cluster;
    for (const kind of FailoverKind.options) for (const outcome of [...Object.values(FAILOVER_OUTCOMES), 'impossible']) failovers.inc({ cluster, kind, outcome }, 0);
    for (const kind of FailoverKind.options) failoverDuration.zero({ cluster, kind });
    for (const n of spec.nodes) for (const kind of ProbeErrorKind.options) failures.inc({ cluster, node: n.name, kind }, 0);
    storeErrors.inc({ cluster }, 0);
    blindRounds.inc({ cluster }, 0);
  };

  return {
    registry,
    probesBlind: () => {},
    failoverStarted: () => {},
    probeRound(spec, r) {
      const cluster = spec.cluster;
      initialize(spec);
      rounds.observe({ cluster }, r.seconds);
      if (r.storeError) storeErrors.inc({ cluster });
      const none = !r.observations.some((o) => o.reachable);
      if (r.storeError || none) blindRounds.inc({ cluster });
      sawNothing.set(cluster, none);
      setBlind(cluster);
      // A node removed from the spec, or a lag no longer known, leaves no stale series behind.
      const now = new Set(r.observations.map((o) => o.node));
      for (const gone of [...(nodes.get(cluster) ?? [])].filter((n) => !now.has(n))) for (const g of [reachable, lagBytes, lagSeconds]) g.remove({ cluster, node: gone });
      nodes.set(cluster, now);
      for (const o of r.observations) {
        const node = { cluster, node: o.node };
        reachable.set(node, o.reachable ? 1 : 0);
        if (o.error) failures.inc({ ...node, kind: o.error.kind });
        if (o.lagBytes !== null) lagBytes.set(node, o.lagBytes);
        else lagBytes.remove(node);
        if (o.lagSeconds !== null) lagSeconds.set(node, o.lagSeconds);
        else lagSeconds.remove(node);
      }
      readLagLimit.set({ cluster }, spec.readLagLimit);
      if (spec.replication.mode === 'async') failoverLagLimit.set({ cluster }, spec.replication.maximumLagOnFailover);
    },
    decideRun(cluster, run) {
      decideRuns.inc({ cluster, command: run.command, outcome: run.outcome });
      if (run.term !== null) term.set({ cluster }, run.term);
      for (const e of run.events) {
        if (e.type === 'FailoverStarted' || e.type === 'FailoverCompleted' || e.type === 'FailoverAborted') failovers.inc({ cluster, kind: e.kind, outcome: FAILOVER_OUTCOMES[e.type] });
        else if (e.type === 'FailoverImpossible') failovers.inc({ cluster, kind: 'failover', outcome: 'impossible' });
        if (e.type === 'FailoverCompleted') for (const s of failoverSeconds([e])) failoverDuration.observe({ cluster, kind: e.kind }, s);
      }
    },
    storeTrouble(cluster, isTroubled) {
      troubled.set(cluster, isTroubled);
      setBlind(cluster);
    },
  };
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** `GET /metrics` of a registry over HTTP, for Prometheus to scrape; anything else is 404. */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if ((req.method !== 'GET' && req.method !== 'HEAD') || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) }).end(req.method === 'HEAD' ? undefined : text),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(e as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${bound}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
