import type { Command } from 'commander';
import { latestObservations } from '../store/observations.ts';
import { startLocalPipeline, type LocalPipeline } from '../local/localPipeline.ts';
import { clusterStatus, renderClusterStatus } from './clusterStatus.ts';
import { decisionLine } from './decisionLines.ts';
import { fail, parseIntOption } from './cliErrors.ts';
import { silentLog } from '../log.ts';

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run a local cluster: PostgreSQL nodes, an agent each, the control plane on embedded dynalite, and the endpoint proxy')
    .option('--nodes <n>', 'number of PostgreSQL nodes (1 primary, the rest standbys)', '3')
    .option('--workdir <dir>', 'where data, store and logs live; a second up on it resumes the same cluster', '.pgvigil')
    .option('--base-port <port>', 'nodes listen on base, base+1…; agents on base+100…; writer base+200, reader base+201', '15432')
    .option('--async', 'asynchronous replication instead of synchronous ANY 1')
    .option('--webhook <url>', 'POST every alert as JSON to this URL')
    .option('--verbose', 'print the control plane logs (JSON) to stderr')
    .addHelpText('after', '\nExample:\n  $ pgvigil up --nodes 3 --workdir .pgvigil\n  (Ctrl-C stops everything cleanly; run it again to resume)')
    .action(async (opts: { nodes: string; workdir: string; basePort: string; async?: boolean; webhook?: string; verbose?: boolean }) => {
      const nodes = parseIntOption('--nodes', opts.nodes, 1, 9);
      const basePort = parseIntOption('--base-port', opts.basePort, 1024, 64_000);
      const started = Date.now();
      const interrupt = new AbortController();
      const onEarlySignal = () => interrupt.abort();
      process.once('SIGINT', onEarlySignal);
      process.once('SIGTERM', onEarlySignal);
      let pipeline: LocalPipeline;
      try {
        pipeline = await startLocalPipeline({
          workDir: opts.workdir,
          basePort,
          nodes,
          async: !!opts.async,
          persistStore: true,
          signal: interrupt.signal,
          ...(opts.webhook ? { webhook: opts.webhook } : {}),
          alertConsole: !!process.stderr.isTTY,
          ...(opts.verbose ? {} : { log: silentLog }),
          onProgress: (step) => process.stdout.write(`… ${step}\n`),
          onDecision: (_seq, events) => {
            for (const e of events) process.stdout.write(`${decisionLine(e)}\n`);
          },
          onTrouble: (reason) => process.stdout.write(`!! control plane blind: ${reason} (no automatic action until the store answers)\n`),
          onRecovered: () => process.stdout.write('.. control plane sees the store again\n'),
        });
      } catch (e) {
        fail(`pgvigil up failed: ${(e as Error).message}`, 'see the logs under the work dir, or run with --verbose', 1);
      }
      process.off('SIGINT', onEarlySignal);
      process.off('SIGTERM', onEarlySignal);
      const status = async () => {
        const state = await pipeline.state();
        const obs = await latestObservations(pipeline.store, 'local', Date.now() - 60_000);
        if (state?.spec && obs.ok) process.stdout.write(`\n${renderClusterStatus(clusterStatus(state, obs.observations, Date.now()))}\n\n`);
      };
      await new Promise((r) => setTimeout(r, 1_000));
      await status();
      process.stdout.write(
        [
          `pgvigil is up in ${((Date.now() - started) / 1000).toFixed(1)} s.`,
          `  writer: ${pipeline.writerUrl}`,
          `  reader: ${pipeline.readerUrl}`,
          `  status: pgvigil status --workdir ${opts.workdir}    history: pgvigil history --workdir ${opts.workdir}`,
          'Decisions appear below as they happen. Ctrl-C stops everything.',
          '',
        ].join('\n'),
      );
      await new Promise<void>((resolve) => {
        let stopping = false;
        // A second Ctrl-C (or one relayed by npm) must not cut the clean stop short.
        const stop = () => {
          if (!stopping) resolve();
          else process.stdout.write('still stopping cleanly…\n');
          stopping = true;
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      process.stdout.write('\nstopping: control loop, proxy, agents, PostgreSQL, store…\n');
      await pipeline.stop();
      process.stdout.write('stopped cleanly.\n');
      process.exit(0);
    });
}
