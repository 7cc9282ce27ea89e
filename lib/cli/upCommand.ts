import type { Command } from 'commander';
import { latestObservations } from '../store/observations.ts';
import { startLocalPipeline, type LocalPipeline } from '../local/localPipeline.ts';
import { clusterStatus, renderClusterStatus } from './clusterStatus.ts';
import { decisionLine } from './decisionLines.ts';
import { fail, parseIntOption } from './cliErrors.ts';
import { jsonLog, silentLog } from '../log.ts';
import { outputClosed, whenOutputClosed } from './output.ts';

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run a local cluster: PostgreSQL nodes, an agent each, the control plane on embedded dynalite, and the endpoint proxy')
    .option('--nodes <n>', 'number of PostgreSQL nodes (1 primary, the rest standbys)', '3')
    .option('--workdir <dir>', 'where data, store and logs live; a second up on it resumes the same cluster', '.pgvigil')
    .option('--base-port <port>', 'nodes listen on base, base+1…; agents on base+100…; writer base+200, reader base+201, control-plane metrics base+202', '15432')
    .option('--async', 'asynchronous replication instead of synchronous ANY 1')
    .option('--webhook <url>', 'POST every alert as JSON to this URL')
    .option('--on-event <cmd>', 'run CMD (with /bin/sh -c) for each decision event: the event as JSON on stdin, PGVIGIL_* in the environment (README: Hooks)')
    .option('--on-event-timeout <seconds>', 'kill an --on-event command (and its children) after this long', '10')
    .option('--verbose', 'print the control plane logs (JSON) to stderr')
    .addHelpText('after', '\nExample:\n  $ pgvigil up --nodes 3 --workdir .pgvigil\n  (Ctrl-C stops everything cleanly; run it again to resume)')
    .action(async (opts: { nodes: string; workdir: string; basePort: string; async?: boolean; webhook?: string; onEvent?: string; onEventTimeout: string; verbose?: boolean }) => {
      const nodes = parseIntOption('--nodes', opts.nodes, 1, 9);
      const basePort = parseIntOption('--base-port', opts.basePort, 1024, 64_000);
      const hookTimeoutS = parseIntOption('--on-event-timeout', opts.onEventTimeout, 1, 3_600);
      // A hook's failures and overruns are shown even without --verbose.
      const hookLog = jsonLog('pgvigil-hook');
      const started = Date.now();
      const stop = stopRequests();
      let pipeline: LocalPipeline;
      try {
        pipeline = await startLocalPipeline({
          workDir: opts.workdir,
          basePort,
          nodes,
          async: !!opts.async,
          persistStore: true,
          metrics: true,
          signal: stop.signal,
          ...(opts.webhook ? { webhook: opts.webhook } : {}),
          ...(opts.onEvent ? { eventHook: { command: opts.onEvent, timeoutMs: hookTimeoutS * 1000, log: (e) => (opts.verbose || e.level !== 'debug' ? hookLog(e) : undefined) } } : {}),
          alertConsole: !!process.stderr.isTTY,
          ...(opts.verbose ? {} : { log: silentLog }),
          onProgress: (step) => say(`… ${step}\n`),
          onDecision: (_seq, events) => {
            for (const e of events) say(`${decisionLine(e)}\n`);
          },
          onTrouble: (reason) => say(`!! control plane blind: ${reason} (no automatic action until the store answers)\n`),
          onRecovered: () => say('.. control plane sees the store again\n'),
        });
      } catch (e) {
        // startLocalPipeline stopped whatever it had started before it threw.
        if (stop.reason() !== null) {
          say(`stopped before it was up (${stop.reason()}).\n`);
          process.exit(stop.failed() ? 1 : 0);
        }
        fail(`pgvigil up failed: ${(e as Error).message}`, 'see the logs under the work dir, or run with --verbose', 1);
      }
      if (stop.reason() === null) {
        await Promise.race([new Promise((r) => setTimeout(r, 1_000)), stop.requested]);
        await printStatus(pipeline).catch(() => {});
        say(
          [
            `pgvigil is up in ${((Date.now() - started) / 1000).toFixed(1)} s.`,
            `  writer: ${pipeline.writerUrl}`,
            `  reader: ${pipeline.readerUrl}`,
            `  metrics: ${pipeline.metricsUrl ?? 'not served'} (control plane); agents: ${[...pipeline.agents.values()].map((a) => `${a.url}/metrics`).join(' ')}`,
            `  status: pgvigil status --workdir ${opts.workdir}    history: pgvigil history --workdir ${opts.workdir}`,
            'Decisions appear below as they happen. Ctrl-C stops everything.',
            '',
          ].join('\n'),
        );
      }
      await stop.requested;
      say(`\nstopping (${stop.reason()}): control loop, proxy, agents, PostgreSQL, store…\n`);
      await pipeline.stop();
      say('stopped cleanly.\n');
      process.exit(stop.failed() ? 1 : 0);
    });
}

/** Write to stdout while someone reads it; once it is closed, up carries on without a word. */
function say(text: string): void {
  if (!outputClosed()) process.stdout.write(text);
}

async function printStatus(pipeline: LocalPipeline): Promise<void> {
  const state = await pipeline.state();
  const obs = await latestObservations(pipeline.store, 'local', Date.now() - 60_000);
  if (state?.spec && obs.ok) say(`\n${renderClusterStatus(clusterStatus(state, obs.observations, Date.now()))}\n\n`);
}

interface StopRequests {
  /** Aborted by the first request: a start under way stops half-way, cleaning up what it began. */
  signal: AbortSignal;
  /** Resolves on the first request. */
  requested: Promise<void>;
  /** What asked first, or null. */
  reason(): string | null;
  /** Whether up ends because of an error of its own (exit 1) rather than being told to stop. */
  failed(): boolean;
}

/**
 * Whatever ends `pgvigil up` stops what it started: Ctrl-C (SIGINT), SIGTERM, SIGHUP (the
 * terminal went away), its output closed (`npm start | tee log`, tee gone first), or an error
 * nobody caught. The first asks for the clean stop; later ones (npm relays Ctrl-C a second
 * time) must not cut it short.
 */
function stopRequests(): StopRequests {
  const abort = new AbortController();
  let why: string | null = null;
  let failed = false;
  let resolve: () => void = () => {};
  const requested = new Promise<void>((r) => (resolve = r));
  const request = (reason: string) => {
    if (why !== null) {
      say('still stopping cleanly…\n');
      return;
    }
    why = reason;
    abort.abort();
    resolve();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => request(signal));
  whenOutputClosed(() => request('its output was closed'));
  const unexpected = (e: unknown) => {
    failed = true;
    if (!outputClosed()) process.stderr.write(`pgvigil up: unexpected error, stopping: ${(e as Error)?.stack ?? String(e)}\n`);
    request(`unexpected error: ${(e as Error)?.message ?? String(e)}`);
  };
  process.on('uncaughtException', unexpected);
  process.on('unhandledRejection', unexpected);
  return { signal: abort.signal, requested, reason: () => why, failed: () => failed };
}
