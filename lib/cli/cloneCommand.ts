import type { Command } from 'commander';
import { createDevClone, dropDevClone } from '../local/devClone.ts';
import { NodeName } from '../domain/spec.ts';
import { fail, parseIntOption, parseOption } from './cliErrors.ts';

type CloneCliOptions = { workdir: string; cluster?: string; name: string; from?: string; port?: string; drop?: boolean; json?: boolean };

/** `pgvigil clone`: a writable copy for development, taken from a standby, outside the cluster. */
export function registerClone(program: Command): void {
  program
    .command('clone')
    .description('local mode: a writable copy of the cluster for testing or development, copied from a standby (never the primary) and promoted outside the cluster')
    .requiredOption('--name <name>', 'the clone\'s name: lowercase letters, digits, dashes')
    .option('--workdir <dir>', 'the work dir of the running `pgvigil up`; clones live in <workdir>/clones/NAME', '.pgvigil')
    .option('--cluster <name>', 'the cluster name (local mode: local)')
    .option('--from <standby>', 'the standby to copy (default: the first streaming standby)')
    .option('--port <port>', 'the clone\'s port (default: a free one)')
    .option('--drop', 'stop the clone and remove its data')
    .option('--json', 'print the outcome as JSON on stdout')
    .addHelpText(
      'after',
      '\nThe clone is never registered: not probed, never in the writer or reader endpoint, never a failover candidate.\nIt keeps running after `pgvigil up` stops; `--drop` removes it.\n\nExamples:\n  $ psql "$(pgvigil clone --name scratch --workdir .pgvigil | tail -1)"\n  $ pgvigil clone --name scratch --drop',
    )
    .action(async (opts: CloneCliOptions) => {
      if (opts.name !== undefined) parseOption('--name', opts.name, NodeName, 'pass e.g. --name scratch');
      if (opts.drop) {
        const dropped = await dropDevClone(opts.workdir, opts.name);
        if (opts.json) process.stdout.write(`${JSON.stringify(dropped)}\n`);
        if (!dropped.ok) fail(dropped.reason, 'retry once it is stopped', 1);
        if (!opts.json) process.stdout.write(dropped.existed ? `clone ${opts.name} stopped and removed\n` : `no clone named ${opts.name}: nothing to drop\n`);
        return;
      }
      const port = opts.port !== undefined ? parseIntOption('--port', opts.port, 1024, 65535) : undefined;
      const out = await createDevClone({
        workDir: opts.workdir,
        name: opts.name,
        ...(opts.cluster ? { cluster: opts.cluster } : {}),
        ...(opts.from ? { from: opts.from } : {}),
        ...(port !== undefined ? { port } : {}),
        onProgress: (step) => {
          if (!opts.json) process.stdout.write(`… ${step}\n`);
        },
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(out)}\n`);
      if (!out.ok) fail(out.reason, `nothing was left behind; pgvigil status --workdir ${opts.workdir} shows the standbys`, 1);
      // The connection string alone on the last line, for scripts.
      if (!opts.json) process.stdout.write(`clone ${out.name} copied from ${out.source} in ${out.ms} ms, promoted on port ${out.port} (data: ${out.dataDir})\n${out.connectionString}\n`);
    });
}
