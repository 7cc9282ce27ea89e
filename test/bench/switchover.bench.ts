/**
 * npm run bench:switchover -- --trials N
 *
 * pgbench (the TPC-B-like default script, 8 clients) runs while `pgvigil switchover` runs, once
 * per path and trial, on three paths:
 *   proxy              the writer endpoint, a new connection per transaction (-C)
 *   proxy_persistent   the writer endpoint, persistent sessions
 *   pgbouncer          Debian's PgBouncer in transaction mode (started here, driven by pgvigil), persistent sessions
 * Each switchover gets its own pgbench run, so every client error it reports belongs to that
 * switchover. pgbench aborts a client at its first error (anything but a serialization or deadlock
 * failure), so a run counts at most one error per client: the errors are the aborted clients plus
 * the failed transactions pgbench reports. The longest transaction is read from pgbench's
 * per-transaction log (--log), among those that overlap the switchover.
 *
 * Then N crash failovers (SIGKILL of the primary's postmaster and agent) under 8 clients opening a
 * connection per write through the writer endpoint and 8 through PgBouncer: a failed connect (or,
 * through PgBouncer, an error PgBouncer itself raises for want of a server) is a connect error; a
 * statement in flight on the crashed primary fails whatever the path does and is counted apart.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import { runCli } from '../support/cliRun.ts';
import { ConnectPerTxLoad } from '../support/connectPerTxLoad.ts';
import { pgbench, pgbenchConn, type PgbenchRun } from '../support/pgbench.ts';
import { pgbouncerBinary, startPgBouncer, type RunningPgBouncer } from '../support/pgbouncer.ts';
import { crashNode, startTestPipeline, upstreamOf, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { WriteLoad } from '../support/writeLoad.ts';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '3' }, 'base-port': { type: 'string', default: '20500' } } });
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1) {
  process.stderr.write('bench:switchover: --trials must be a positive integer\n');
  process.exit(2);
}
const basePort = Number(values['base-port']);
if (!pgbouncerBinary()) {
  process.stderr.write('bench:switchover: pgbouncer is not installed (scripts/setup.sh installs it as root)\n');
  process.exit(2);
}

const say = (msg: string) => process.stdout.write(`${msg}\n`);
const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2);
};
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

type PathName = 'proxy' | 'proxy_persistent' | 'pgbouncer';

interface SwitchoverResult {
  path: PathName;
  errors: number;
  errorLines: string[];
  longestTxMs: number;
  /** The pause the path's clients saw: the writer endpoint's, or PgBouncer's. */
  pauseMs: number | null;
  closed: number;
  cut: number;
  switchoverMs: number;
}

/** Back to three healthy nodes: every standby streams from the primary, and the readers list them. */
async function restored(p: TestPipeline): Promise<void> {
  const primary = (await p.state())!.primary!;
  for (const n of p.cluster.nodes) {
    if (n.name === primary) continue;
    await waitFor(`${n.name} to stream from ${primary}`, async () => (await upstreamOf(p, n.name)) === primary, 120_000, 200);
  }
  await waitFor('the readers to list both standbys', async () => (await p.state())?.readers.length === p.cluster.nodes.length - 1, 30_000, 200);
}

/** Errors in one pgbench run: clients aborted (each at its first error) and failed transactions. */
function pgbenchErrors(run: PgbenchRun): { count: number; lines: string[] } {
  const out = `${run.stdout}\n${run.stderr}`;
  const aborted = out.split('\n').filter((l) => /client \d+ aborted/.test(l));
  const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
  const connectOnly = aborted.length === 0 ? out.split('\n').filter((l) => /^pgbench: error: (connection|could not)/.test(l)) : [];
  return { count: aborted.length + failed + connectOnly.length, lines: [...aborted, ...connectOnly, ...(failed ? [`${failed} failed transactions`] : [])] };
}

/** The longest transaction (ms) in pgbench's per-transaction logs that overlaps [from, to] (ms since epoch). */
async function longestTransaction(dir: string, from: number, to: number): Promise<number> {
  let longest = 0;
  for (const f of await readdir(dir)) {
    if (!f.startsWith('tx.')) continue;
    for (const line of (await readFile(join(dir, f), 'utf8')).split('\n')) {
      // client_id transaction_no time(us) script_no time_epoch(s) time_us
      const x = line.trim().split(/\s+/);
      if (x.length < 6) continue;
      const latencyMs = Number(x[2]) / 1000;
      const endMs = Number(x[4]) * 1000 + Number(x[5]) / 1000;
      if (!Number.isFinite(latencyMs) || endMs < from || endMs - latencyMs > to) continue;
      longest = Math.max(longest, latencyMs);
    }
  }
  return Math.round(longest);
}

const succeeded = (events: DecisionEvent[], action: string, term: number) =>
  events.find((e): e is Extract<DecisionEvent, { type: 'ActionSucceeded' }> => e.type === 'ActionSucceeded' && e.intent.action === action && e.term === term);

async function switchoverTrial(p: TestPipeline, bouncer: RunningPgBouncer, path: PathName): Promise<SwitchoverResult> {
  await restored(p);
  const logDir = await mkdtemp(join(tmpdir(), 'pgvigil-bench-pgbench-'));
  const port = path === 'pgbouncer' ? bouncer.port : p.proxy.addresses.writer.port;
  const args = ['-n', '-c', '8', '-j', '1', '-T', '22', '-P', '1', '--log', `--log-prefix=${join(logDir, 'tx')}`, ...(path === 'proxy' ? ['-C'] : []), ...pgbenchConn(port), 'postgres'];
  const run = pgbench(p.cluster.bindir, args);
  await run.running;
  // A couple of seconds of steady load before the switchover.
  await new Promise((r) => setTimeout(r, 2_000));
  const before = (await p.state())!;
  const t0 = Date.now();
  const cli = await runCli(['switchover', '--json', '--timeout', '60', '--workdir', p.workDir]);
  const t1 = Date.now();
  if (cli.code !== 0) throw new Error(`pgvigil switchover failed (${cli.code}): ${cli.stderr || cli.stdout}`);
  const done = await run.done;
  const after = (await p.state())!;
  if (t1 - t0 > 18_000) say(`  note: this switchover took ${t1 - t0} ms, longer than the pgbench run after it started`);
  const term = after.term;
  if (term === before.term) throw new Error('the switchover did not change the term');
  const demote = succeeded(p.events, 'demote', term);
  const endpoints = await waitFor('the endpoints change of the term', () => succeeded(p.events, 'endpoints', term), 30_000);
  const drain = demote?.detail['drain'] as { cut: number } | undefined;
  const resumed = endpoints.detail['resumed'] as { pausedMs: number; closed: number } | undefined;
  const bounced = (endpoints.detail['pgbouncer'] as { pausedMs?: number }[] | undefined)?.[0];
  const errors = pgbenchErrors(done);
  const asked = p.events.find((e) => e.type === 'ActionRequested' && e.intent.action === 'demote' && e.term === term)?.at ?? NaN;
  const promoted = succeeded(p.events, 'promote', term)?.at ?? NaN;
  const waited = (demote?.detail['drain'] as { waitedMs?: number } | undefined)?.waitedMs;
  const steps = `drain ${waited ?? '?'} ms; from the demote's request: demoted +${(demote?.at ?? NaN) - asked} ms, promoted +${promoted - asked} ms, endpoints moved +${endpoints.at - asked} ms`;
  const longestTxMs = await longestTransaction(logDir, t0, t1);
  await rm(logDir, { recursive: true, force: true });
  const r: SwitchoverResult = {
    path,
    errors: errors.count,
    errorLines: errors.lines,
    longestTxMs,
    pauseMs: path === 'pgbouncer' ? (bounced?.pausedMs ?? null) : (resumed?.pausedMs ?? null),
    closed: resumed?.closed ?? 0,
    cut: drain?.cut ?? 0,
    switchoverMs: t1 - t0,
  };
  say(
    `  ${path}: ${before.primary} -> ${after.primary}: ${r.errors} client errors, longest transaction ${r.longestTxMs} ms, pause ${r.pauseMs ?? 'n/a'} ms, ` +
      `${r.closed} sessions closed, ${r.cut} cut, switchover command ${r.switchoverMs} ms\n    ${steps}${r.errorLines.length ? `\n    ${r.errorLines.slice(0, 4).join('\n    ')}` : ''}`,
  );
  return r;
}

/** A statement that failed because the server it ran on died, which no path can hide. */
const IN_FLIGHT = /unexpected postmaster exit|terminating connection|server closed the connection|Connection terminated unexpectedly|server conn crashed|not queryable/i;

async function crashTrial(p: TestPipeline, bouncer: RunningPgBouncer, trial: number): Promise<{ proxy: number; pgbouncer: number; inFlight: { proxy: number; pgbouncer: number }; pgbouncerErrorWindowMs: number; startedMs: number }> {
  await restored(p);
  const old = (await p.state())!;
  const oldPort = p.cluster.nodes.find((n) => n.name === old.primary)!.port;
  // A table per client and trial: each client numbers its rows from 1.
  const tables = (path: string) => Array.from({ length: 8 }, (_, i) => `bench_crash_${path}_${trial}_${i}`);
  for (const t of [...tables('proxy'), ...tables('pgbouncer')]) await WriteLoad.prepare(p.writerUrl, t);
  const viaProxy = tables('proxy').map((t) => new ConnectPerTxLoad(p.writerUrl, t, 20));
  const viaBouncer = tables('pgbouncer').map((t) => new ConnectPerTxLoad(bouncer.url(), t, 20));
  const all = [...viaProxy, ...viaBouncer];
  for (const c of all) c.start();
  await waitFor('writes on every client', () => all.every((c) => c.acked.length >= 5), 30_000);
  const t0 = Date.now();
  await crashNode(p, old.primary!);
  await waitFor('writes on the new primary through both paths', () => all.every((c) => c.ackTimes.some((t, i) => t >= t0 && c.ackPorts[i] !== oldPort)), 90_000);
  await Promise.all(all.map((c) => c.stop()));
  const count = (cs: ConnectPerTxLoad[]) => {
    const statementErrors = cs.flatMap((c) => c.statementErrors);
    const inFlight = statementErrors.filter((e) => IN_FLIGHT.test(e));
    const fromPath = statementErrors.filter((e) => !IN_FLIGHT.test(e));
    return { connect: sum(cs.map((c) => c.connectErrors.length)) + fromPath.length, inFlight: inFlight.length, samples: [...cs.flatMap((c) => c.connectErrors), ...fromPath].slice(0, 3) };
  };
  const a = count(viaProxy);
  const b = count(viaBouncer);
  const next = (await p.state())!;
  const started = p.events.find((e) => e.type === 'FailoverStarted' && e.term === next.term)?.at ?? NaN;
  const fence = p.events.find((e) => (e.type === 'ActionSucceeded' || e.type === 'ActionFailed') && e.intent.action === 'fence' && e.term === next.term);
  const pointed = succeeded(p.events, 'endpoints', next.term)?.at ?? NaN;
  const errorsAt = (cs: ConnectPerTxLoad[]) => {
    const ts = cs.flatMap((c) => c.errorTimes);
    return `${ts.filter((t) => t < started).length} before the failover started, ${ts.filter((t) => t >= started && t <= pointed).length} during it, ${ts.filter((t) => t > pointed).length} after the endpoints moved`;
  };
  say(`  crash ${old.primary} -> ${next.primary}: connect errors proxy=${a.connect} pgbouncer=${b.connect}; in flight on the crashed primary proxy=${a.inFlight} pgbouncer=${b.inFlight}`);
  say(`    failover started +${started - t0} ms, endpoints moved +${pointed - t0} ms; errors proxy: ${errorsAt(viaProxy)}; pgbouncer: ${errorsAt(viaBouncer)}`);
  if (fence && 'reason' in fence) say(`    fence: ${fence.reason}`);
  for (const s of [...a.samples, ...b.samples]) say(`    ${s}`);
  await p.agents.get(old.primary!)!.start();
  const bouncerErrors = viaBouncer.flatMap((c) => c.errorTimes);
  const windowMs = bouncerErrors.length ? Math.max(...bouncerErrors) - t0 : 0;
  return { proxy: a.connect, pgbouncer: b.connect, inFlight: { proxy: a.inFlight, pgbouncer: b.inFlight }, pgbouncerErrorWindowMs: windowMs, startedMs: started - t0 };
}

const bouncer = await startPgBouncer(basePort + 350);
let p: TestPipeline | null = null;
let code = 0;
try {
  p = await startTestPipeline(basePort, { pgbouncer: bouncer.spec });
  const init = await pgbench(p.cluster.bindir, ['-i', '-s', '8', ...pgbenchConn(p.proxy.addresses.writer.port), 'postgres']).done;
  if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);

  const results: SwitchoverResult[] = [];
  for (let i = 1; i <= trials; i++) {
    say(`trial ${i}/${trials}`);
    for (const path of ['proxy', 'proxy_persistent', 'pgbouncer'] as const) results.push(await switchoverTrial(p, bouncer, path));
  }
  const crashes: Awaited<ReturnType<typeof crashTrial>>[] = [];
  for (let i = 1; i <= trials; i++) {
    say(`crash ${i}/${trials}`);
    crashes.push(await crashTrial(p, bouncer, i));
  }

  const of = (path: PathName) => results.filter((r) => r.path === path);
  for (const path of ['proxy', 'proxy_persistent', 'pgbouncer'] as const) {
    const rs = of(path);
    const pauses = rs.map((r) => r.pauseMs).filter((x): x is number => x !== null);
    say(
      `path ${path}: errors per switchover ${rs.map((r) => r.errors).join(',')}; longest transaction ms median=${median(rs.map((r) => r.longestTxMs))} max=${Math.max(...rs.map((r) => r.longestTxMs))}; ` +
        `pause ms median=${median(pauses)} max=${Math.max(...pauses)}; cut ${sum(rs.map((r) => r.cut))}`,
    );
  }
  say(`failover_pgbouncer_error_window_ms ${crashes.map((c) => c.pgbouncerErrorWindowMs).join(',')} (from the crash to its last error through PgBouncer; the failover started at +${crashes.map((c) => c.startedMs).join(',')} ms)`);
  say(`failover_in_flight_errors proxy=${sum(crashes.map((c) => c.inFlight.proxy))} pgbouncer=${sum(crashes.map((c) => c.inFlight.pgbouncer))} trials=${crashes.length}`);
  const pauses = results.map((r) => r.pauseMs).filter((x): x is number => x !== null);
  say(`switchover_errors proxy=${sum(of('proxy').map((r) => r.errors))} pgbouncer=${sum(of('pgbouncer').map((r) => r.errors))} trials=${trials}`);
  say(`switchover_sessions_closed proxy_persistent=${sum(of('proxy_persistent').map((r) => r.closed))}`);
  say(`switchover_pause_ms median=${median(pauses)} max=${Math.max(...pauses)}`);
  say(`failover_connect_errors proxy=${sum(crashes.map((c) => c.proxy))} pgbouncer=${sum(crashes.map((c) => c.pgbouncer))}`);
} catch (e) {
  process.stderr.write(`bench:switchover failed: ${(e as Error).message}\n`);
  code = 1;
} finally {
  await p?.dispose();
  await bouncer.stop();
}
process.exit(code);
