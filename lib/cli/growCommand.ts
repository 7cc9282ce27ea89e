import type { Command } from 'commander';
import { growLocalNode } from '../local/growLocalNode.ts';
import { NodeName } from '../domain/spec.ts';
import { fail, parseIntOption, parseOption } from './cliErrors.ts';
import { requester } from './clusterTarget.ts';

type GrowCliOptions = { workdir: string; cluster?: string; name?: string; from?: string; priority: string; nofailover?: boolean; nosync?: boolean; json?: boolean };

/**
 * `pgvigil grow`: local mode's add-node that also builds the server. `pgvigil add-node`
 * only registers a node someone already built; grow copies a standby into a new one,
 * registers it and makes it a synchronous candidate.
 */
export function registerGrow(program: Command): void {
  program
    .command('grow')
    .description('local mode: build a new standby by copying a standby (never the primary), register it, and add it to the synchronous candidates once caught up')
    .option('--workdir <dir>', 'the work dir of the running `pgvigil up`', '.pgvigil')
    .option('--cluster <name>', 'the cluster name (local mode: local)')
    .option('--name <name>', 'name of the new node (default: pgN, the next free number; its ports follow the same pattern)')
    .option('--from <standby>', 'the standby to copy (default: the first streaming standby)')
    .option('--priority <n>', 'higher wins among equally safe failover candidates (0-1000)', '100')
    .option('--nofailover', 'never promote the new node')
    .option('--nosync', 'never list it in synchronous_standby_names')
    .option('--json', 'print the outcome as JSON on stdout')
    .addHelpText(
      'after',
      '\nThe running `pgvigil up` takes charge of the new node (its server and agent) from the moment it is registered.\nOn AWS, build the standby on its host (the agent\'s clone action) and register it with `pgvigil add-node`.\n\nExample:\n  $ pgvigil grow --workdir .pgvigil --from pg2\n  $ pgvigil status --workdir .pgvigil',
    )
    .action(async (opts: GrowCliOptions) => {
      if (opts.name !== undefined) parseOption('--name', opts.name, NodeName, 'pass e.g. --name pg4');
      const priority = parseIntOption('--priority', opts.priority, 0, 1000);
      const quiet = opts.json ?? false;
      const out = await growLocalNode({
        workDir: opts.workdir,
        ...(opts.cluster ? { cluster: opts.cluster } : {}),
        ...(opts.name ? { name: opts.name } : {}),
        ...(opts.from ? { from: opts.from } : {}),
        tags: { priority, nofailover: !!opts.nofailover, nosync: !!opts.nosync },
        requestedBy: requester(),
        onProgress: (step) => {
          if (!quiet) process.stdout.write(`… ${step}\n`);
        },
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(out)}\n`);
      if (!out.ok) fail(out.reason, `nothing was registered; pgvigil status --workdir ${opts.workdir} shows the cluster`, 1);
      if (!quiet) {
        const n = out.node;
        process.stdout.write(
          `${n.name} added: copied from ${out.source}${out.basebackupMs !== null ? ` in ${out.basebackupMs} ms` : ''}, streaming from ${out.upstream}, ` +
            `postgresql://postgres@${n.host}:${n.port}/postgres, agent ${n.agent}\n` +
            `synchronous_standby_names on every node: ${out.synchronousStandbyNames || "'' (async)"}\n`,
        );
      }
    });
}
