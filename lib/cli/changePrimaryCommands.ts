import type { Command } from 'commander';
import { withObservations } from '../control/commitCommand.ts';
import { decide } from '../domain/decide.ts';
import { SwitchoverTimeoutMs, type CommandWithoutObservations } from '../domain/commands.ts';
import type { DecisionEvent } from '../domain/events.ts';
import { awaitAction } from './awaitAction.ts';
import { fail, parseIntOption, parseOption } from './cliErrors.ts';
import { Duration } from './durationArg.ts';
import { awaitFailover } from './awaitFailover.ts';
import { openTarget, requester, withTargetOptions, type ClusterTarget, type TargetOptions } from './clusterTarget.ts';
import { sleepUntil } from './interrupt.ts';
import { submitOrExit } from './submitCommand.ts';
import { parseTimeArg } from './timeArg.ts';

type WaitOptions = { timeout: string; json?: boolean };
type SwitchoverOptions = TargetOptions & WaitOptions & { to?: string; at?: string };
type FailoverOptions = TargetOptions & WaitOptions & { to: string; force?: boolean };

export function registerChangePrimary(program: Command): void {
  withTargetOptions(program.command('switchover'))
    .description('planned change of primary with no acknowledged write lost: stop the primary cleanly, promote a standby once it has replayed the shutdown checkpoint, re-point the rest')
    .option('--to <node>', 'the standby to promote (default: the best qualified one)')
    .option('--at <time>', 'wait until then before asking: ISO time (UTC when no zone) or relative (+10m, 1h)')
    .option('--timeout <duration>', 'the deadline for the promotion (90, 90s, 2m): past it the switchover is recorded as failed and the old primary serves again', '60s')
    .option('--json', 'print only the outcome as JSON on stdout (progress goes to stderr)')
    .addHelpText('after', '\nExamples:\n  $ pgvigil switchover --to pg2\n  $ pgvigil switchover --at 2026-11-24T03:00:00Z\n  $ pgvigil switchover --at +30m --to pg3 --timeout 5m')
    .action(async (opts: SwitchoverOptions) => {
      const deadlineMs = parseOption('--timeout', opts.timeout, Duration.pipe(SwitchoverTimeoutMs), 'pass a duration from 1 s to 1 day, e.g. --timeout 90s or --timeout 2m');
      // The outcome is the completion, or the failure recorded just past the deadline.
      const timeoutMs = deadlineMs + WAIT_PAST_DEADLINE_MS;
      let at: number | null = null;
      if (opts.at !== undefined) {
        const t = parseTimeArg('--at', opts.at, Date.now(), 'ahead');
        if (!t.ok) fail(t.reason, 'e.g. --at +10m or --at 2026-11-24T03:00:00Z');
        if (t.at < Date.now() - 60_000) fail(`--at ${new Date(t.at).toISOString()} is in the past`, 'give a time ahead, or leave --at out to switch over now');
        at = t.at;
      }
      const target = openTarget(opts);
      const command = (): CommandWithoutObservations => ({ type: 'switchover', now: Date.now(), to: opts.to ?? null, timeoutMs: deadlineMs, requestedBy: requester() });
      const say = sayer(opts.json);
      if (at !== null && at > Date.now()) {
        // Say now, not at 3 a.m., when the switchover would be refused.
        const preview = await previewRefusal(target, command());
        if (preview) fail(`switchover would be refused now: ${preview}`, 'nothing was scheduled; fix the cause or pick another --to, then run it again');
        say(`waiting until ${new Date(at).toISOString()} (in ${Math.round((at - Date.now()) / 1000)} s) to ask for the switchover; Ctrl-C cancels, nothing has been asked yet`);
        if (!(await sleepUntil(at))) fail('interrupted before the switchover was asked for', 'nothing was changed', 1);
      }
      await changePrimary(target, command(), timeoutMs, opts.json ?? false);
    });

  withTargetOptions(program.command('failover'))
    .description('manual failover to a named standby when the primary is gone; the fencing rules still hold')
    .requiredOption('--to <node>', 'the standby to promote')
    .option('--force', 'also when the primary has not failed: its agent stops it first (fencing)')
    .option('--timeout <seconds>', 'how long to wait for the outcome', '120')
    .option('--json', 'print only the outcome as JSON on stdout (progress goes to stderr)')
    .addHelpText('after', '\nExamples:\n  $ pgvigil failover --to pg2\n  $ pgvigil failover --to pg3 --force   (primary still up: planned switchover is safer)')
    .action(async (opts: FailoverOptions) => {
      const timeoutMs = parseIntOption('--timeout', opts.timeout, 1, 86_400) * 1000;
      const target = openTarget(opts);
      await changePrimary(target, { type: 'failover', now: Date.now(), to: opts.to, force: !!opts.force, requestedBy: requester() }, timeoutMs, opts.json ?? false);
    });
}

/** How long the CLI waits past a switchover's deadline for the failure to be recorded. */
const WAIT_PAST_DEADLINE_MS = 30_000;

/**
 * `failover --to` the stopped primary itself: the decision asks its agent to start it again
 * (restartPrimary.ts), no failover. Wait for that answer and exit with it.
 */
async function restartAnswered(target: ClusterTarget, seq: number, events: DecisionEvent[], timeoutMs: number, json: boolean): Promise<never> {
  const asked = events.find((e) => e.type === 'ActionRequested' && e.intent.action === 'promote');
  if (!asked || asked.type !== 'ActionRequested') fail(`the decision holds no FailoverStarted nor restart (${events.map((e) => e.type).join(', ')})`, 'check pgvigil history --since 5m', 1);
  const say = sayer(json);
  say(`restart of ${asked.intent.node} as primary of term ${asked.intent.term} asked (decision ${seq})`);
  say(`  reason: ${asked.reason}`);
  const answer = await awaitAction(target.store, target.cluster, seq, asked.intent.id, timeoutMs);
  target.close();
  const ok = answer?.type === 'ActionSucceeded';
  const reason = answer ? answer.reason : `no answer from ${asked.intent.node}'s agent after ${Math.round(timeoutMs / 1000)} s`;
  if (json) process.stdout.write(`${JSON.stringify({ ok, outcome: ok ? 'restarted' : 'failed', node: asked.intent.node, term: asked.intent.term, seq, reason })}\n`);
  if (ok) {
    if (!json) say(`${asked.intent.node} is primary of term ${asked.intent.term} again: ${reason}`);
    process.exit(0);
  }
  fail(`restart of ${asked.intent.node}: ${reason}`, 'pgvigil status shows the node; pgvigil history --node ' + asked.intent.node + ' shows each attempt', 1);
}

const sayer =
  (json: boolean | undefined) =>
  (line: string): void => {
    (json ? process.stderr : process.stdout).write(`${line}\n`);
  };

/** What decide would answer now, without appending anything: null when it would accept. */
async function previewRefusal(target: ClusterTarget, command: CommandWithoutObservations): Promise<string | null> {
  const state = await target.state();
  const full = await withObservations(target.store, target.cluster, command);
  if (!full.ok) fail(full.reason, `check that the store answers (${target.flags})`, 1);
  const d = decide(full.command, state);
  return d.ok ? null : d.reason;
}

async function changePrimary(target: ClusterTarget, command: CommandWithoutObservations, timeoutMs: number, json: boolean): Promise<void> {
  const say = sayer(json);
  const started = Date.now();
  const { seq, events } = await submitOrExit(target, command, json);
  const start = events.find((e) => e.type === 'FailoverStarted');
  if (!start && command.type === 'failover') await restartAnswered(target, seq, events, timeoutMs, json);
  if (!start || start.type !== 'FailoverStarted') fail(`the decision holds no FailoverStarted (${events.map((e) => e.type).join(', ')})`, 'check pgvigil history --since 5m', 1);
  const what = start.kind === 'switchover' ? 'switchover' : 'manual failover';
  say(`${what} started: ${start.from} → ${start.to}, term ${start.term} (decision ${seq})`);
  say(`  reason: ${start.reason}`);
  for (const e of events) if (e !== start) say(`  ${e.reason}`);
  say('waiting for the outcome (Ctrl-C stops waiting; the change goes on):');
  const out = await awaitFailover(target.store, target.cluster, seq, start.term, timeoutMs, say);
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  const result = {
    ok: out.outcome === 'completed',
    outcome: out.outcome,
    kind: start.kind,
    from: start.from,
    to: start.to,
    term: start.term,
    seq,
    seconds,
    reason: 'event' in out ? out.event.reason : out.reason,
    events: [start, ...out.events],
  };
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  target.close();
  if (out.outcome === 'completed') {
    if (!json) say(`${what} completed in ${seconds} s: ${start.to} is primary of term ${start.term}; ${start.from} ${start.kind === 'switchover' ? 'is re-pointed to follow it' : 'is rewound to follow it once its agent answers'}`);
    process.exit(0);
  }
  if (out.outcome === 'aborted') fail(`${what} aborted: ${result.reason}`, "pgvigil status shows the primary now; pgvigil history --since 10m shows why", 1);
  fail(`${what} of term ${start.term}: ${result.reason}`, 'it may still complete: follow it with pgvigil history --follow, and pgvigil status', 1);
}
