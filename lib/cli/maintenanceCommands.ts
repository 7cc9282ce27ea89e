import type { Command } from 'commander';
import type { CommandWithoutObservations } from '../domain/commands.ts';
import { parseWith } from '../domain/parse.ts';
import { NodeSpec } from '../domain/spec.ts';
import { fail } from './cliErrors.ts';
import { openTarget, requester, withTargetOptions, type TargetOptions } from './clusterTarget.ts';
import { submitOrExit } from './submitCommand.ts';

type Json = { json?: boolean };
type AddNodeOptions = TargetOptions & Json & { name: string; host: string; port: string; agent: string; priority?: string; nofailover?: boolean; nosync?: boolean };

/** Send the command, then print what the log now holds, and a note on what comes next. */
async function run(opts: TargetOptions & Json, command: (requestedBy: string) => CommandWithoutObservations, note: string): Promise<void> {
  const target = openTarget(opts);
  const { seq, events } = await submitOrExit(target, command(requester()), opts.json ?? false);
  if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, seq, events })}\n`);
  else {
    for (const e of events) process.stdout.write(`${e.reason}\n`);
    process.stdout.write(`${note}\n`);
  }
  target.close();
}

export function registerMaintenance(program: Command): void {
  withTargetOptions(program.command('pause'))
    .description('maintenance mode: no automatic failover or other automatic action until resume; shown in status and every alert')
    .option('--json', 'print the recorded decision as JSON')
    .addHelpText('after', '\nExample:\n  $ pgvigil pause && (maintenance…) && pgvigil resume')
    .action((opts: TargetOptions & Json) =>
      run(opts, (by) => ({ type: 'pause', now: Date.now(), requestedBy: by }), 'paused: probes and alerts go on; nothing is failed over until `pgvigil resume`'),
    );

  withTargetOptions(program.command('resume'))
    .description('end maintenance mode: automatic failover is on again, from what the probes see now')
    .option('--json', 'print the recorded decision as JSON')
    .addHelpText('after', '\nExample:\n  $ pgvigil resume')
    .action((opts: TargetOptions & Json) =>
      run(opts, (by) => ({ type: 'resume', now: Date.now(), requestedBy: by }), 'resumed: if the primary is down, the failover starts within a probe round (pgvigil history --follow)'),
    );

  withTargetOptions(program.command('add-node'))
    .description('register a node in the cluster spec (it does not create the server: start it as a standby and run its agent)')
    .requiredOption('--name <name>', 'node name: lowercase letters, digits, dashes')
    .requiredOption('--host <host>', 'host or IP address PostgreSQL listens on')
    .requiredOption('--port <port>', 'PostgreSQL port')
    .requiredOption('--agent <url>', "the node agent's URL, e.g. http://10.0.1.7:8008")
    .option('--priority <n>', 'higher wins among equally safe candidates (0-1000)', '100')
    .option('--nofailover', 'never promote this node')
    .option('--nosync', 'never list it in synchronous_standby_names')
    .option('--json', 'print the recorded decision as JSON')
    .addHelpText('after', '\nExample:\n  $ pgvigil add-node --name pg4 --host 10.0.1.7 --port 5432 --agent http://10.0.1.7:8008 --nosync')
    .action((opts: AddNodeOptions) => {
      const parsed = parseWith(
        NodeSpec,
        {
          name: opts.name,
          host: opts.host,
          port: Number(opts.port),
          agent: opts.agent,
          tags: { priority: Number(opts.priority ?? 100), nofailover: !!opts.nofailover, nosync: !!opts.nosync },
        },
        'add-node',
      );
      if (!parsed.ok) fail(parsed.reason.replace('add-node: ', 'add-node --').replace('tags.', ''), 'fix that option; pgvigil add-node --help has an example');
      return run(opts, (by) => ({ type: 'addNode', now: Date.now(), node: parsed.value, requestedBy: by }), `registered: the control plane probes ${opts.name} from its next round`);
    });

  withTargetOptions(program.command('remove-node'))
    .description('remove a standby from the cluster spec (switch over first to remove the primary)')
    .argument('<node>', 'the node to remove')
    .option('--json', 'print the recorded decision as JSON')
    .addHelpText('after', '\nExample:\n  $ pgvigil remove-node pg3')
    .action((node: string, opts: TargetOptions & Json) =>
      run(opts, (by) => ({ type: 'removeNode', now: Date.now(), node, requestedBy: by }), `removed: ${node} is no longer probed, promoted or served to readers; its server is left as it is`),
    );

  withTargetOptions(program.command('rejoin'))
    .description('rewind a node onto the current primary\'s timeline and let it follow (what happens on its own when its agent comes back)')
    .argument('<node>', 'the node to rejoin')
    .option('--json', 'print the recorded decision as JSON')
    .addHelpText('after', '\nExample:\n  $ pgvigil rejoin pg1')
    .action((node: string, opts: TargetOptions & Json) =>
      run(opts, (by) => ({ type: 'rejoin', now: Date.now(), node, requestedBy: by }), `asked: follow it with pgvigil history --node ${node} --follow`),
    );
}
