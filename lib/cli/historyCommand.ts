import type { Command } from 'commander';
import { readDecisions } from '../store/decisionLog.ts';
import { fail } from './cliErrors.ts';
import { openTarget, withTargetOptions, type ClusterTarget, type TargetOptions } from './clusterTarget.ts';
import { HISTORY_HEADER, HISTORY_TYPES, historyJson, historyLines, matchesNode, matchesType, type HistoryEntry } from './historyLines.ts';
import { untilInterrupted } from './interrupt.ts';
import { parseTimeArg } from './timeArg.ts';

type HistoryOptions = TargetOptions & { since?: string; until?: string; node?: string; type?: string; follow?: boolean; json?: boolean; ndjson?: boolean };

export interface HistoryFilter {
  since: number | null;
  until: number | null;
  node: string | null;
  types: string[] | null;
}

export function registerHistory(program: Command): void {
  withTargetOptions(program.command('history'))
    .description('the decision log: time, term, event, node, reason, and the observations each decision was taken on')
    .option('--since <time>', 'only events at or after: ISO time (UTC when no zone) or relative (10m, 2h, 1d)')
    .option('--until <time>', 'only events at or before: ISO or relative')
    .option('--node <name>', 'only events about this node')
    .option('--type <types>', 'only these event types, comma-separated (e.g. FailoverStarted,Fenced or promote-requested)')
    .option('--follow', 'keep printing new events as they are decided, until Ctrl-C')
    .option('--json', 'one JSON array (not with --follow)')
    .option('--ndjson', 'one JSON object per line')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ pgvigil history --since 2h',
        '  $ pgvigil history --since 2026-11-24T03:00:00Z --until 2026-11-24T03:30:00Z --type FailoverStarted,Fenced,Promoted,FailoverCompleted',
        '  $ pgvigil history --node pg1 --follow',
        '  $ pgvigil history --json | jq \'.[] | select(.type == "FailoverStarted") | .evidence\'',
        '',
        `Types: ${HISTORY_TYPES.join(', ')}`,
      ].join('\n'),
    )
    .action(async (opts: HistoryOptions) => {
      const now = Date.now();
      const filter = parseFilter(opts, now);
      if (opts.json && opts.ndjson) fail('--json and --ndjson exclude each other', 'pick one: --json for one array, --ndjson for a line per event');
      if (opts.follow && opts.json) fail('--follow prints events as they come, which one JSON array cannot', 'use --ndjson with --follow');
      if (opts.follow && filter.until !== null) fail('--follow and --until exclude each other', 'drop one of them');
      const target = openTarget(opts);
      await target.state();
      let last = await printFrom(target, 0, filter, opts, true);
      if (opts.follow) {
        await untilInterrupted(async () => {
          last = await printFrom(target, last, filter, opts, false);
        }, 500);
      }
      target.close();
    });
}

export function parseFilter(opts: { since?: string; until?: string; node?: string; type?: string }, now: number): HistoryFilter {
  const time = (flag: string, v: string | undefined): number | null => {
    if (v === undefined) return null;
    const t = parseTimeArg(flag, v, now, 'ago');
    if (!t.ok) fail(t.reason, `e.g. ${flag} 30m`);
    return t.at;
  };
  const since = time('--since', opts.since);
  const until = time('--until', opts.until);
  if (since !== null && until !== null && until < since) fail('--until is before --since', 'swap them, or widen the window');
  let types: string[] | null = null;
  if (opts.type !== undefined) {
    types = opts.type.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean);
    const known = new Set(HISTORY_TYPES.map((t) => t.toLowerCase()));
    const bad = types.filter((t) => !known.has(t));
    if (bad.length > 0 || types.length === 0) fail(`--type: unknown event type ${bad.map((b) => `"${b}"`).join(', ') || '(empty)'}`, `use one of: ${HISTORY_TYPES.join(', ')}`);
  }
  return { since, until, node: opts.node ?? null, types };
}

export function selected(h: HistoryEntry, f: HistoryFilter): boolean {
  const e = h.event;
  return (f.since === null || e.at >= f.since) && (f.until === null || e.at <= f.until) && (f.node === null || matchesNode(e, f.node)) && (f.types === null || matchesType(e, f.types));
}

/** Print the selected events after `afterSeq`; answers the last seq read. */
async function printFrom(target: ClusterTarget, afterSeq: number, f: HistoryFilter, opts: HistoryOptions, first: boolean): Promise<number> {
  const read = await readDecisions(target.store, target.cluster, { afterSeq });
  if (!read.ok) fail(read.reason, `check that the store answers (${target.flags})`, 1);
  for (const u of read.unreadable) process.stderr.write(`pgvigil: unreadable decision ${u.key.sk}: ${u.error}\n`);
  const entries = read.items.flatMap((item) => item.events.map((event) => ({ seq: item.seq, event }))).filter((h) => selected(h, f));
  if (opts.json) process.stdout.write(`${JSON.stringify(entries.map(historyJson), null, 2)}\n`);
  else if (opts.ndjson) for (const h of entries) process.stdout.write(`${JSON.stringify(historyJson(h))}\n`);
  else {
    if (first) process.stdout.write(`${HISTORY_HEADER}\n`);
    for (const h of entries) process.stdout.write(`${historyLines(h).join('\n')}\n`);
    if (first && entries.length === 0) process.stdout.write('(no event matches)\n');
  }
  return read.items.at(-1)?.seq ?? afterSeq;
}
