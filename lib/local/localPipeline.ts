import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { leaseRenewEveryMs } from '../agent/lease.ts';
import { AlertSink } from '../alerts/alertSink.ts';
import { type ControlPlane, type FaultHook } from '../control/controlPlane.ts';
import { decideOnce } from '../control/decideOnce.ts';
import type { DecisionEvent } from '../domain/events.ts';
import { ClusterSpec, type ClusterSpecInput, type NodeSpec, type NodeTags, type PgBouncerSpecInput, type TimingSpec } from '../domain/spec.ts';
import { createPgBouncerDriver } from '../endpoints/pgbouncer.ts';
import type { ClusterState } from '../domain/state.ts';
import { startEndpointProxy, type EndpointProxy } from '../endpoints/proxy.ts';
import { loadState } from '../store/loadState.ts';
import { readLeases } from '../store/leases.ts';
import { createStore, closeStore, type Store } from '../store/store.ts';
import type { StoreConfig } from '../store/storeConfig.ts';
import { ensureTable } from '../store/table.ts';
import { bundleAgent } from './agentBundle.ts';
import { prepareLocalAgent, restartReason, type AgentRestart, type LocalAgent } from './agentProcesses.ts';
import { localArchiveConf, prepareLocalArchive } from './localArchive.ts';
import { agentKeysDir, localAgentCa } from './localAgentKeys.ts';
import { keyDirSigningKey } from '../agent/keyDir.ts';
import { adoptGrownNode, type GrownNode } from './grownNodes.ts';
import { probeLoginFromFiles } from '../host/probeLoginFiles.ts';
import { startControlLoop, type ControlLoop } from './controlLoop.ts';
import { followDecisions, type DecisionFollower } from './decisionFeed.ts';
import { startDynalite, type DynaliteServer } from './dynaliteServer.ts';
import { createLocalCluster, openLocalCluster, type LocalCluster } from './localCluster.ts';
import { ensurePgOsUser } from '../postgres/osUser.ts';
import { localPorts } from './localPorts.ts';
import { promControlMetrics, serveMetrics } from '../control/promControlMetrics.ts';
import type { z } from 'zod';
import { jsonLog, type Log } from '../log.ts';
import { HookQueue } from '../hooks/hookQueue.ts';

export interface LocalPipelineOptions {
  workDir: string;
  basePort: number;
  nodes?: number;
  async?: boolean;
  timing?: Partial<TimingSpec>;
  /** The spec's readLagLimit in bytes (default 16 MiB): tests make a standby lag past a small one. */
  readLagLimit?: number;
  /** PgBouncer in front of the cluster (the spec's pgbouncer part): pointed at the primary at start, then driven by the reactor. */
  pgbouncer?: PgBouncerSpecInput;
  tags?: Record<string, z.input<typeof NodeTags>>;
  walReceiverTimeoutMs?: number;
  /** Keep the store on disk under the work dir (pgvigil up), or in memory (tests). */
  persistStore?: boolean;
  webhook?: string;
  /** Also print each alert's subject on stderr (pgvigil up in a terminal). */
  alertConsole?: boolean;
  /** `pgvigil up --on-event`: a command run for each hooked decision event (lib/hooks), beside the control plane. */
  eventHook?: { command: string; timeoutMs?: number; log?: Log };
  log?: Log;
  faults?: FaultHook;
  /** Serve the control plane's Prometheus `/metrics` on 127.0.0.1, port base+202 (pgvigil up does). */
  metrics?: boolean;
  /**
   * How the probe runs (lib/local/controlLoop.ts): 'always' (default: probing costs nothing here)
   * or 'on-wake', as the stack deploys synchronous clusters, with its minute (default 60 s).
   */
  probe?: { cadence: 'always' | 'on-wake'; minuteMs?: number };
  onDecision?: (seq: number, events: DecisionEvent[]) => void;
  onTrouble?: (reason: string) => void;
  onRecovered?: () => void;
  onProgress?: (step: string) => void;
  /** Aborting stops a start half-way, cleaning up what it began. */
  signal?: AbortSignal;
}

export interface LocalPipeline {
  spec: ClusterSpec;
  cluster: LocalCluster;
  agents: Map<string, LocalAgent>;
  proxy: EndpointProxy;
  store: Store;
  storeConfig: StoreConfig;
  cp: ControlPlane;
  loop: ControlLoop;
  writerUrl: string;
  readerUrl: string;
  /** The control plane's `/metrics` URL, when served. */
  metricsUrl: string | null;
  alerts: AlertSink;
  /** The store's dynalite server: tests stop and restart it to blind the control plane. */
  dynalite(): DynaliteServer;
  restartDynalite(): Promise<void>;
  stopDynalite(): Promise<void>;
  state(): Promise<ClusterState | null>;
  stop(): Promise<void>;
}

const TABLE = 'pgvigil';

/**
 * Local mode: real PostgreSQL nodes on 127.0.0.1, an agent process per node, dynalite
 * serving the DynamoDB API, the endpoint proxy, and the scheduler calling the same
 * probe and decide code that runs on Lambda. A second start on the same work dir
 * resumes the same cluster.
 */
export async function startLocalPipeline(o: LocalPipelineOptions): Promise<LocalPipeline> {
  const workDir = resolve(o.workDir);
  const progress = (step: string) => {
    if (o.signal?.aborted) throw new Error('interrupted');
    o.onProgress?.(step);
  };
  const log = o.log ?? jsonLog('pgvigil');
  const ports = localPorts(o.basePort, o.nodes ?? 3);
  const names = ports.nodes.map((p) => p.name);
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };

  try {
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    const storePath = join(workDir, 'store');
    const startStore = () => startDynalite({ ...(o.persistStore ? { path: storePath } : {}), port: ports.store });
    progress('starting the store (dynalite)');
    let dyn = await startStore();
    cleanups.push(() => dyn.stop());
    const storeConfig: StoreConfig = { table: TABLE, region: 'us-east-1', endpoint: dyn.endpoint };
    await writeFile(join(workDir, 'store.json'), JSON.stringify(storeConfig));
    const store = createStore(storeConfig, log);
    cleanups.push(async () => closeStore(store));
    const table = await ensureTable(store);
    if (!table.ok) throw new Error(table.reason);

    const clusterName = 'local';
    const osUser = ensurePgOsUser();
    const replication = o.async ? ({ mode: 'async', maximumLagOnFailover: 1024 * 1024 } as const) : ({ mode: 'synchronous', quorum: 1 } as const);
    const existing = await loadState(store, clusterName);
    const resume = existing.ok && existing.state.spec !== null && existsSync(join(workDir, names[0]!));
    // The agent bundle is also archive_command: it exists before the first server starts.
    const agentScript = await bundleAgent(workDir);
    await prepareLocalArchive(workDir, osUser);
    progress(resume ? 'resuming the PostgreSQL nodes' : `creating ${names.length} PostgreSQL nodes`);
    const cluster = resume
      ? await openLocalCluster({ workDir, basePort: o.basePort, names, osUser, primary: existing.state.primary, onLeftRunning: (note) => o.onProgress?.(note) })
      : await createLocalCluster({
          workDir,
          basePort: o.basePort,
          names,
          replication,
          osUser,
          walReceiverTimeoutMs: o.walReceiverTimeoutMs ?? 2_000,
          ...(o.tags ? { tags: o.tags } : {}),
          extraConf: localArchiveConf(workDir, agentScript),
        });
    cleanups.push(() => cluster.stopAll());

    // Each node's agent gets a key of its own (prepareLocalAgent makes it); the control plane signs with the target's.
    const agentKey = keyDirSigningKey(agentKeysDir(workDir));

    const agentPorts = Object.fromEntries(ports.nodes.map((p) => [p.name, p.agent]));
    const specInput: ClusterSpecInput = {
      cluster: clusterName,
      nodes: cluster.specNodes(agentPorts),
      replication,
      timing: o.timing ?? {},
      ...(o.readLagLimit !== undefined ? { readLagLimit: o.readLagLimit } : {}),
      ...(o.pgbouncer ? { pgbouncer: o.pgbouncer } : {}),
    };
    const spec = resume ? existing.state.spec! : ClusterSpec.parse(specInput);

    progress('starting the node agents');
    const agents = new Map<string, LocalAgent>();
    // An agent that dies is restarted by its supervisor (agentProcess); each restart goes into the
    // decision log once the control plane runs, so `pgvigil history` shows it.
    let recordRestart = (name: string, r: AgentRestart): void => log({ level: 'warn', msg: 'agent restarted', node: name, ...r });
    const agentLease = { ttlMs: spec.timing.leaseTtlMs, renewEveryMs: leaseRenewEveryMs(spec.timing.leaseTtlMs) };
    for (const node of cluster.nodes) {
      const agent = await prepareLocalAgent({
        cluster: clusterName,
        node,
        port: agentPorts[node.name]!,
        bindir: cluster.bindir,
        osUser: osUser?.name ?? null,
        workDir,
        store: storeConfig,
        agentScript,
        lease: agentLease,
        onRestart: (name, r) => recordRestart(name, r),
      });
      agents.set(node.name, agent);
      cleanups.push(() => agent.stop());
    }
    await Promise.all([...agents.values()].map((a) => a.start()));

    // Nodes `pgvigil grow` added: resumed with the cluster, and adopted when NodeAdded shows up.
    const grown = new Map<string, GrownNode>();
    const adopting = new Set<Promise<void>>();
    const adopt = (node: NodeSpec, primary: string | null): Promise<void> => {
      if (names.includes(node.name) || grown.has(node.name)) return Promise.resolve();
      const agentOptions = { cluster: clusterName, bindir: cluster.bindir, osUser: osUser?.name ?? null, store: storeConfig, agentScript, lease: agentLease, onRestart: (name: string, r: AgentRestart) => recordRestart(name, r) };
      const run = adoptGrownNode({ workDir, node, primary, osUser, agent: agentOptions, onLeftRunning: (note) => o.onProgress?.(note) })
        .then((g) => {
          if (!g) return;
          grown.set(g.name, g);
          agents.set(g.name, g.agent);
        })
        .catch((e: unknown) => log({ level: 'warn', msg: 'could not take charge of a grown node', node: node.name, error: (e as Error).message }))
        .finally(() => adopting.delete(run));
      adopting.add(run);
      return run;
    };
    cleanups.push(async () => {
      await Promise.allSettled([...adopting]);
      await Promise.all([...grown.values()].map((g) => g.stop()));
    });
    if (resume) for (const node of spec.nodes) await adopt(node, existing.state.primary);

    progress('starting the endpoint proxy');
    const started = await startEndpointProxy({ host: '127.0.0.1', writerPort: ports.writer, readerPort: ports.reader });
    if (!started.ok) throw new Error(started.reason);
    const proxy = started.proxy;
    cleanups.push(() => proxy.close());

    const alerts = new AlertSink({ console: o.alertConsole ?? false, ...(o.webhook ? { webhook: o.webhook } : {}), onError: (reason) => log({ level: 'warn', msg: reason }) });
    const metrics = o.metrics ? promControlMetrics() : null;
    const metricsServer = metrics ? await serveMetrics(metrics.registry, '127.0.0.1', ports.metrics) : null;
    if (metricsServer) cleanups.push(() => metricsServer.close());
    const agentCa = localAgentCa(workDir);
    const cp: ControlPlane = {
      store,
      agentKey,
      ...(agentCa !== undefined ? { agentCa } : {}),
      endpoints: proxy,
      log,
      decider: 'local',
      clock: () => Date.now(),
      awaitActions: false,
      ...(o.faults ? { faults: o.faults } : {}),
      ...(metrics ? { metrics } : {}),
    };

    const recording = new Set<Promise<void>>();
    recordRestart = (name, r) => {
      log({ level: 'warn', msg: 'agent restarted', node: name, ...r });
      const command = { type: 'agentRestarted', now: cp.clock(), node: name, exitCode: r.exitCode, signal: r.signal, restarts: r.restarts, reason: restartReason(r) } as const;
      const run = decideOnce(cp, clusterName, command)
        .then((d) => {
          if (!d.ok) log({ level: 'warn', msg: 'agent restart not recorded', node: name, reason: d.reason });
        })
        .catch((e: unknown) => log({ level: 'warn', msg: 'agent restart not recorded', node: name, error: (e as Error).message }))
        .finally(() => recording.delete(run));
      recording.add(run);
    };
    cleanups.push(async () => {
      await Promise.allSettled([...recording]);
    });

    if (!resume) {
      const init = await decideOnce(cp, clusterName, { type: 'initialize', now: cp.clock(), spec, primary: names[0]! });
      if (!init.ok) throw new Error(init.reason);
    }
    const current = await loadState(store, clusterName);
    if (!current.ok) throw new Error(current.reason);
    const target = (name: string | null) => {
      const n = spec.nodes.find((x) => x.name === name);
      return n ? { name: n.name, host: n.host, port: n.port } : null;
    };
    const startChange = {
      term: current.state.term,
      writer: target(current.state.writer),
      readers: current.state.readers.map(target).filter((t): t is NonNullable<typeof t> => t !== null),
    };
    await proxy.apply(startChange);
    if (spec.pgbouncer) {
      // Best effort, as every PgBouncer step: the cluster runs without it.
      const bouncer = createPgBouncerDriver(spec.pgbouncer, log);
      const pointed = await bouncer.apply(startChange);
      bouncer.close();
      log({ level: pointed.steps.every((s) => s.ok) ? 'info' : 'warn', msg: 'pgbouncer at start', summary: pointed.summary });
    }

    const hooks = o.eventHook ? new HookQueue({ log, ...o.eventHook }) : null;
    let follower: DecisionFollower | null = followDecisions(store, clusterName, current.seq, (seq, events, paused) => {
      alerts.publish(clusterName, events, paused);
      hooks?.enqueueDecision(clusterName, seq, events);
      for (const e of events) if (e.type === 'NodeAdded') void adopt(e.node, null);
      o.onDecision?.(seq, events);
    });
    cleanups.push(async () => {
      await follower?.stop();
      await Promise.all([alerts.drain(), hooks?.stop()]);
    });

    progress('starting the control loop');
    const loop = startControlLoop({
      cp,
      cluster: clusterName,
      // The probe logs in as on AWS: pgvigil_monitor over TLS (a work dir from before has no host files: the superuser).
      ...(existsSync(cluster.files.monitorPasswordFile) ? { probeLogin: await probeLoginFromFiles(cluster.files) } : {}),
      ...(o.onTrouble ? { onTrouble: o.onTrouble } : {}),
      ...(o.onRecovered ? { onRecovered: o.onRecovered } : {}),
      ...(o.probe ? { cadence: o.probe.cadence, ...(o.probe.minuteMs !== undefined ? { minuteMs: o.probe.minuteMs } : {}) } : {}),
    });
    cleanups.push(() => loop.stop());

    // Protected only once every agent's lease names the members it counts (rule 3): before
    // that, a lease proves nothing, and a failover of a node whose agent is gone waits forever.
    progress("waiting for every agent's lease to name the cluster's members");
    const unprotected = await waitLeasesNameMembers(store, clusterName, names, 20_000);
    if (unprotected.length > 0) log({ level: 'warn', msg: "agents' leases do not name the cluster's members yet: a failover of their node needs the agent's own answer", nodes: unprotected });

    progress('ready');
    const url = (port: number) => `postgresql://postgres@127.0.0.1:${port}/postgres`;
    return {
      spec,
      cluster,
      agents,
      proxy,
      store,
      storeConfig,
      cp,
      loop,
      alerts,
      writerUrl: url(ports.writer),
      readerUrl: url(ports.reader),
      metricsUrl: metricsServer?.url ?? null,
      dynalite: () => dyn,
      async stopDynalite() {
        await dyn.stop();
      },
      async restartDynalite() {
        dyn = await startStore();
      },
      async state() {
        const s = await loadState(store, clusterName);
        return s.ok ? s.state : null;
      },
      async stop() {
        await cleanup();
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Waits (bounded) until each node's lease names the spec's members; answers the nodes whose lease still does not. */
async function waitLeasesNameMembers(store: Store, cluster: string, nodes: readonly string[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const read = await readLeases(store, cluster, nodes);
    const named = new Set(read.ok ? read.leases.filter((l) => l.members != null).map((l) => l.node) : []);
    const missing = nodes.filter((n) => !named.has(n));
    if (missing.length === 0 || Date.now() > deadline) return missing;
    await new Promise((r) => setTimeout(r, 100));
  }
}
