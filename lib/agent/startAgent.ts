import type { AgentKeys } from './signing.ts';
import type { AgentKeyRing } from './agentKeyRing.ts';
import { mkdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { OsUser } from '../postgres/osUser.ts';
import { closeStore, createStore, type Store } from '../store/store.ts';
import { ActionLock } from './actionLock.ts';
import type { AgentConfig } from './agentConfig.ts';
import type { AgentTarget } from './agentClient.ts';
import { createAgentServer } from './agentServer.ts';
import type { ActionContext } from './actions/actionTypes.ts';
import { FenceMarker } from './fenceMarker.ts';
import { startLeaseLoop, type LeaseLoop } from './lease.ts';
import { startWatch, type WatchLoop } from './watch/watchLoop.ts';
import { PgServer } from '../postgres/pgServer.ts';
import { replicationToolEnv } from '../postgres/standbyConf.ts';
import { TermStore } from './termStore.ts';
import { releaseVipUnlessPrimary } from './writerVip.ts';
import { jsonLog, type Log } from '../log.ts';
import { actionOutcome, agentMetrics } from './agentMetrics.ts';
import { healthRoutes } from './health/healthRoutes.ts';
import { startWatchdogLink, type WatchdogLink } from './watchdog/watchdogLink.ts';
import { watchdogSettingsOf } from './watchdog/watchdogSettings.ts';
import { sourceWatchdogCommand } from './watchdog/watchdogCommand.ts';

export interface StartAgentOptions {
  /** This node's HMAC key, or the new and previous keys during a rotation; a ring (loadAgentKeyRing) follows a rotation at its source. */
  key: AgentKeys | AgentKeyRing;
  /** Run PostgreSQL tools as this user; null runs them as ourselves. */
  osUser: OsUser | null;
  log?: Log;
  /** How often the fence marker is enforced (a fenced node found running is stopped again). */
  fenceGuardEveryMs?: number;
  /** How to start the watchdog process (without its --settings); default: from source (watchdogCommand.ts). */
  watchdogCommand?: string[];
}

export interface RunningAgent {
  /** Plain HTTP: the public routes (health, metrics). With TLS, actions go to `target.url` (https) only. */
  url: string;
  /** Where to call this agent's actions, and the cluster and node a request must be signed for. */
  target: AgentTarget;
  lease: LeaseLoop | null;
  close(): Promise<void>;
}

/** Starts the agent: HTTP server, lease loop (when a store is configured), fence guard. */
export async function startAgent(config: AgentConfig, opts: StartAgentOptions): Promise<RunningAgent> {
  const log = opts.log ?? jsonLog('agent', { cluster: config.cluster, node: config.node });
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  const pg = new PgServer({
    dataDir: config.dataDir,
    bindir: config.bindir,
    host: config.pgHost,
    port: config.pgPort,
    osUser: opts.osUser,
    log,
    toolEnv: replicationToolEnv(config.replicationAuth),
  });
  const terms = await TermStore.open(config.stateDir);
  const fence = new FenceMarker(config.stateDir);
  const ctx: ActionContext = { config, pg, terms, fence, log };
  const lock = new ActionLock();
  const metrics = agentMetrics(ctx);
  // Before we answer anyone: a host back from a crash or a partition must not hold the writer address.
  await releaseVipUnlessPrimary(config.vip, pg, fence, log);

  // Read once at start: a certificate the bootstrap issues again (new addresses) is served from the next start.
  const tls = config.tls ? { cert: await readFile(config.tls.certFile, 'utf8'), key: await readFile(config.tls.keyFile, 'utf8') } : undefined;
  const server = createAgentServer({ ctx, key: opts.key, lock, ...(tls ? { tls } : {}), publicRoutes: [healthRoutes(ctx, lock), metrics.route], onAnswered: (action, status, ok, s) => metrics.answered(action, actionOutcome(status, ok), s) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.listen.host}:${port}`;
  const actionsUrl = tls ? `https://${config.listen.host}:${port}` : url;

  let store: Store | null = null;
  let lease: LeaseLoop | null = null;
  let watchdog: WatchdogLink | null = null;
  let watch: WatchLoop | null = null;
  if (config.store) {
    store = createStore(config.store, (e) => log({ ...e, component: 'store' }));
    const settings = watchdogSettingsOf(config, opts.osUser);
    if (settings) {
      watchdog = startWatchdogLink({ settings, command: opts.watchdogCommand ?? sourceWatchdogCommand(), pg, term: () => terms.current, log, metrics: metrics.watchdog, roleEveryMs: config.lease.renewEveryMs });
    }
    lease = startLeaseLoop({ store, cluster: config.cluster, node: config.node, ttlMs: config.lease.ttlMs, renewEveryMs: config.lease.renewEveryMs, term: () => terms.current, pg, fence, lock, log, stateDir: config.stateDir, ...(config.vip ? { vip: config.vip } : {}), metrics: metrics.lease, ...(watchdog ? { watchdog } : {}) });
    const loop = lease;
    ctx.leaseFresh = () => loop.ensureFresh();
    ctx.logTerm = () => loop.logTerm();
    // Wakes the probe when PostgreSQL here, or the primary this node follows, looks wrong (lib/agent/watch).
    watch = startWatch({ store, cluster: config.cluster, node: config.node, pg, fence, term: () => terms.current, log, metrics: metrics.watch });
  }

  // A fenced node stays stopped whoever starts it, until follow/rewind/clone lift the fence.
  let guarding = false;
  const guard = setInterval(() => {
    if (guarding) return;
    guarding = true;
    void lock
      .run(async () => {
        const marker = await fence.get();
        if (!marker || (await pg.postmasterPid()) === null) return;
        log({ level: 'warn', msg: 'PostgreSQL found running while fenced: stopping it', fencedAt: marker.term, why: marker.why });
        await pg.stopNow(2);
      })
      .catch((e: unknown) => log({ level: 'error', msg: 'fence guard threw', error: String(e) }))
      .finally(() => (guarding = false));
  }, opts.fenceGuardEveryMs ?? 1_000);

  log({ level: 'info', msg: 'agent listening', url: actionsUrl, tls: tls !== undefined, term: terms.current, lease: config.store ? { ttlMs: config.lease.ttlMs, renewEveryMs: config.lease.renewEveryMs } : null });
  let closing: Promise<void> | null = null;
  return {
    url,
    target: { url: actionsUrl, cluster: config.cluster, node: config.node },
    lease,
    close() {
      closing ??= (async () => {
        clearInterval(guard);
        await watch?.stop();
        await lease?.stop();
        // Stopped cleanly: nothing hangs, so the watchdog stands down (systemd's BindsTo= decides about PostgreSQL).
        await watchdog?.close('the agent stopped cleanly');
        if (store) closeStore(store);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        // Let a running action finish: it may be mid-way through pg_ctl.
        await lock.run(async () => {});
        log({ level: 'info', msg: 'agent stopped' });
      })();
      return closing;
    },
  };
}
