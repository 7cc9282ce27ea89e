import type { Command } from 'commander';
import { fail } from './cliErrors.ts';
import { openTarget, requester, withTargetOptions, type TargetOptions } from './clusterTarget.ts';
import { submitOrExit } from './submitCommand.ts';

type AbortOptions = TargetOptions & { reason?: string; json?: boolean };

/**
 * `pgvigil abort`: the operator's way out of a failover that does not end (issue 13 item 1).
 * The decider stops a candidate whose promotion was asked for and deposes it; the reason is
 * recorded with the operator's name in the FailoverAborted event.
 */
export function registerAbort(program: Command): void {
  withTargetOptions(program.command('abort'))
    .description('end the failover or switchover in progress: a candidate asked to promote is stopped through its agent and deposed (rewound when it answers); the reason goes into history')
    .requiredOption('--reason <text>', 'why, for the audit log (e.g. "pg2 host lost, replacing it")')
    .option('--json', 'print the recorded decision as JSON')
    .addHelpText('after', '\nExamples:\n  $ pgvigil status            (the failover, its step, and what it waits for)\n  $ pgvigil abort --reason "pg2 host lost after its promote"')
    .action(async (opts: AbortOptions) => {
      const reason = (opts.reason ?? '').trim();
      if (reason === '') fail('--reason is empty', 'say why the failover is aborted: it goes into history');
      const target = openTarget(opts);
      const { seq, events } = await submitOrExit(target, { type: 'abort', now: Date.now(), reason, requestedBy: requester() }, opts.json ?? false);
      if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, seq, events })}\n`);
      else {
        for (const e of events) process.stdout.write(`${e.reason}\n`);
        process.stdout.write('aborted: the next probe round decides from what it sees (pgvigil status; pgvigil history --follow)\n');
      }
      target.close();
    });
}
