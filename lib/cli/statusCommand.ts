import type { Command } from 'commander';
import { OBSERVATION_WINDOW_MS } from '../control/decideOnce.ts';
import { latestObservations } from '../store/observations.ts';
import { openTarget, withTargetOptions, type TargetOptions } from './clusterTarget.ts';
import { fail } from './cliErrors.ts';
import { clusterStatus, renderClusterStatus, type ClusterStatus } from './clusterStatus.ts';
import { untilInterrupted } from './interrupt.ts';
import { writerConnectStrings, type WriterConnectStrings } from '../client/connectStrings.ts';

type StatusOptions = TargetOptions & { watch?: boolean; json?: boolean };

export function registerStatus(program: Command): void {
  withTargetOptions(program.command('status'))
    .description('one row per node (role, state, timeline, lag, term, tags, last seen) under the cluster: mode, paused, endpoints, control plane health')
    .option('--watch', 'redraw every second until Ctrl-C')
    .option('--json', 'machine-readable output (with --watch: one JSON object per line)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ pgvigil status --workdir .pgvigil\n  $ pgvigil status --watch\n  $ pgvigil status --json | jq \'.nodes[] | {name, role}\'\n  $ pgvigil status --table pgvigil --region eu-west-1 --cluster orders',
    )
    .action(async (opts: StatusOptions) => {
      const target = openTarget(opts);
      const read = async (): Promise<ClusterStatus & { connect?: WriterConnectStrings }> => {
        const state = await target.state();
        const now = Date.now();
        const obs = await latestObservations(target.store, target.cluster, now - OBSERVATION_WINDOW_MS);
        if (!obs.ok) fail(obs.reason, 'check that the store answers (pgvigil up running, or AWS credentials)', 1);
        // The writer through any libpq or JDBC client, whichever node is primary (README: Connecting).
        return { ...clusterStatus(state, obs.observations, now), ...(state?.spec ? { connect: writerConnectStrings(state.spec) } : {}) };
      };
      const print = (s: ClusterStatus & { connect?: WriterConnectStrings }) =>
        process.stdout.write(opts.json ? `${JSON.stringify(s)}\n` : `${renderClusterStatus(s)}\n${s.connect ? `writer, any node (libpq): ${s.connect.libpq}\n` : ''}`);
      if (!opts.watch) {
        print(await read());
        target.close();
        return;
      }
      const tty = process.stdout.isTTY && !opts.json;
      await untilInterrupted(async () => {
        const s = await read();
        if (tty) process.stdout.write('\x1b[2J\x1b[H');
        print(s);
        if (tty) process.stdout.write(`\n(every second; Ctrl-C stops)  ${new Date().toISOString()}\n`);
        else if (!opts.json) process.stdout.write('\n');
      }, 1_000);
      target.close();
    });
}
