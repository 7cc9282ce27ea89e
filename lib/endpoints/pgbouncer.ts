import { access, constants, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { PgBouncerSpec } from '../domain/spec.ts';
import type { Log } from '../log.ts';
import type { EndpointChange } from './driver.ts';
import { consoleCommand, consoleName, type ConsoleResult } from './pgbouncerConsole.ts';

/**
 * PgBouncer in front of the cluster (issue 17 part 2), driven through its admin console:
 *   switchover: PAUSE (bounded: open transactions finish, server connections close, new
 *               queries wait in PgBouncer), demote, promote, then the [databases] file is
 *               rewritten to the new primary, RELOAD, RESUME;
 *   failover:   PAUSE when it starts (the old primary is gone: nothing to wait for, but new
 *               queries wait instead of failing at a dead server), then re-point and RESUME.
 * Every step is time-bounded and answers what happened; none refuses the failover.
 */

/** What one step did on one PgBouncer, for the history. */
export interface PgBouncerStep {
  instance: string;
  ok: boolean;
  ms: number;
  /** On apply: how long this PgBouncer had been paused, when pgvigil paused it. */
  pausedMs?: number;
  reason?: string;
}

export interface PgBouncerRun {
  steps: PgBouncerStep[];
  /** One clause per PgBouncer for the action's reason. */
  summary: string;
}

interface InstanceState {
  admin: string;
  databasesFile: string;
  name: string;
  pausedAt: number | null;
  /** RESUMEs a pause that no endpoints change ends (the failover gave up) after holdMs. */
  safety: NodeJS.Timeout | null;
}

export interface PgBouncerDriver {
  /** Before a switchover's demote: PAUSE, waiting up to pauseTimeoutMs for open transactions. */
  drain(term: number): Promise<PgBouncerRun>;
  /** At a failover's start: PAUSE, waiting at most commandTimeoutMs (the pause holds from the command on). */
  hold(term: number): Promise<PgBouncerRun>;
  /** Point the databases at the change's writer, RELOAD, RESUME. Term-tagged in the file: an older change is ignored. */
  apply(change: EndpointChange): Promise<PgBouncerRun>;
  /** The switchover gave up: RESUME onto the old primary, unchanged. */
  resume(): Promise<PgBouncerRun>;
  close(): void;
}

const TERM_LINE = /^; pgvigil term (\d+)/m;

/** The [databases] file pgvigil owns: one line per database, pointed at the writer. Nothing secret in it. */
export function databasesFileText(spec: PgBouncerSpec, change: EndpointChange & { writer: NonNullable<EndpointChange['writer']> }): string {
  const lines = spec.databases.map((d) => `${d.name} = host=${change.writer.host} port=${change.writer.port} dbname=${d.dbname ?? d.name}`);
  return [
    `; pgvigil term ${change.term}, writer ${change.writer.name}. Written by pgvigil at every change of primary: do not edit.`,
    '[databases]',
    ...lines,
    '',
  ].join('\n');
}

export function termOfDatabasesFile(text: string): number | null {
  const m = TERM_LINE.exec(text);
  return m ? Number(m[1]) : null;
}

export function createPgBouncerDriver(spec: PgBouncerSpec, log: Log, env: NodeJS.ProcessEnv = process.env): PgBouncerDriver {
  const instances: InstanceState[] = spec.instances.map((i) => ({ admin: i.admin, databasesFile: i.databasesFile, name: consoleName(i.admin), pausedAt: null, safety: null }));
  // Read at each command, never kept in a field that is logged or recorded.
  const password = () => (spec.passwordEnv ? env[spec.passwordEnv] : undefined);
  const run = (i: InstanceState, command: 'PAUSE' | 'RESUME' | 'RELOAD', timeoutMs: number): Promise<ConsoleResult> =>
    consoleCommand(i.admin, password(), command, timeoutMs, Math.min(timeoutMs, spec.commandTimeoutMs));

  const clearSafety = (i: InstanceState) => {
    if (i.safety) clearTimeout(i.safety);
    i.safety = null;
  };

  const pause = async (i: InstanceState, term: number, waitMs: number, why: string): Promise<PgBouncerStep> => {
    // A control plane that could not re-point it (a Lambda: its file system is its own) must not pause it either.
    const writable = await access(dirname(i.databasesFile), constants.W_OK).then(
      () => true,
      () => false,
    );
    if (!writable) return { instance: i.name, ok: false, ms: 0, reason: `not paused: this control plane cannot write ${i.databasesFile}, so it could not re-point it` };
    const at = Date.now();
    const r = await run(i, 'PAUSE', waitMs);
    // A PAUSE that timed out, or found the pool already paused, has still paused it.
    const paused = r.ok || r.timedOut || /already suspended\/paused/i.test(r.reason);
    if (paused) {
      i.pausedAt ??= at;
      clearSafety(i);
      i.safety = setTimeout(() => {
        i.safety = null;
        if (i.pausedAt === null) return;
        void run(i, 'RESUME', spec.commandTimeoutMs).then((res) => {
          if (res.ok) i.pausedAt = null;
          log({ level: 'warn', msg: 'pgbouncer pause ended by its bound: no endpoints change came', instance: i.name, term, holdMs: spec.holdMs, ok: res.ok, ...(res.ok ? {} : { reason: res.reason }) });
        });
      }, spec.holdMs);
      i.safety.unref?.();
    }
    const step: PgBouncerStep = r.ok ? { instance: i.name, ok: true, ms: r.ms } : { instance: i.name, ok: false, ms: r.ms, reason: paused ? `${r.reason} (paused: new queries wait; ${why})` : r.reason };
    log({ level: step.ok ? 'info' : 'warn', msg: 'pgbouncer pause', instance: i.name, term, ms: step.ms, ...(step.reason ? { reason: step.reason } : {}) });
    return step;
  };

  const resumeOne = async (i: InstanceState): Promise<PgBouncerStep> => {
    const r = await run(i, 'RESUME', spec.commandTimeoutMs);
    const pausedMs = i.pausedAt !== null ? Date.now() - i.pausedAt : undefined;
    if (r.ok) {
      i.pausedAt = null;
      clearSafety(i);
    }
    return { instance: i.name, ok: r.ok, ms: r.ms, ...(pausedMs !== undefined ? { pausedMs } : {}), ...(r.ok ? {} : { reason: r.reason }) };
  };

  const applyOne = async (i: InstanceState, change: EndpointChange): Promise<PgBouncerStep> => {
    const started = Date.now();
    const writer = change.writer;
    if (writer === null) return { instance: i.name, ok: true, ms: 0, reason: 'no writer in this change: left as it is' };
    const current = await readFile(i.databasesFile, 'utf8').catch(() => '');
    const currentTerm = termOfDatabasesFile(current);
    if (currentTerm !== null && currentTerm > change.term) return { instance: i.name, ok: true, ms: Date.now() - started, reason: `already at term ${currentTerm}: change of term ${change.term} ignored` };
    const text = databasesFileText(spec, { ...change, writer });
    try {
      if (text !== current) {
        // Whole or not at all: PgBouncer may read it at any RELOAD (or SIGHUP).
        const tmp = join(dirname(i.databasesFile), `.pgvigil-databases-${process.pid}-${Date.now()}.tmp`);
        await writeFile(tmp, text, { mode: 0o644 });
        await rename(tmp, i.databasesFile);
      }
    } catch (e) {
      // RESUME all the same: a pool held forever is an outage of its own.
      const resumed = await resumeOne(i);
      return { ...resumed, ok: false, ms: Date.now() - started, reason: `could not write ${i.databasesFile}: ${(e as Error).message}` };
    }
    // RELOAD closes each server connection to the old destination once it is released and
    // opens new ones at the new one (PgBouncer's doc); after a PAUSE there are none left.
    const reload = await run(i, 'RELOAD', spec.commandTimeoutMs);
    // A console that did not answer RELOAD in time would not answer RESUME either: its safety bound
    // resumes it, and the file, already rewritten, points it right at its next RELOAD or restart.
    if (!reload.ok && reload.timedOut) return { instance: i.name, ok: false, ms: Date.now() - started, reason: `${reload.reason}; not resumed: the file is rewritten, a RELOAD (or SIGHUP) points it at ${writer.name}` };
    const resumed = await resumeOne(i);
    const problems = [reload.ok ? null : reload.reason, resumed.ok ? null : resumed.reason].filter((x): x is string => x !== null);
    return {
      instance: i.name,
      ok: problems.length === 0,
      ms: Date.now() - started,
      ...(resumed.pausedMs !== undefined ? { pausedMs: resumed.pausedMs } : {}),
      ...(problems.length ? { reason: problems.join('; ') } : {}),
    };
  };

  const each = async (f: (i: InstanceState) => Promise<PgBouncerStep>, say: (s: PgBouncerStep) => string): Promise<PgBouncerRun> => {
    const steps = await Promise.all(instances.map((i) => f(i).catch((e: unknown): PgBouncerStep => ({ instance: i.name, ok: false, ms: 0, reason: (e as Error).message }))));
    return { steps, summary: steps.map((s) => `${s.instance}: ${say(s)}`).join('; ') };
  };

  return {
    drain: (term) =>
      each(
        (i) => pause(i, term, spec.pauseTimeoutMs, 'demoting anyway: transactions still open there are cut'),
        (s) => (s.ok ? `paused in ${s.ms} ms` : `not paused cleanly: ${s.reason}`),
      ),
    hold: (term) =>
      each(
        (i) => pause(i, term, spec.commandTimeoutMs, 'held until the new primary'),
        (s) => (s.ok ? `paused in ${s.ms} ms, holding queries for the new primary` : `pause: ${s.reason}`),
      ),
    apply: (change) =>
      each(
        (i) => applyOne(i, change),
        (s) =>
          s.ok && s.reason
            ? s.reason
            : s.ok
              ? `${spec.databases.map((d) => d.name).join(', ')} pointed at ${change.writer?.name}, reloaded, ${s.pausedMs !== undefined ? `resumed after a ${s.pausedMs} ms pause` : 'resumed'}`
              : `re-point failed: ${s.reason}`,
      ),
    resume: () =>
      each(
        (i) => resumeOne(i),
        (s) => (s.ok ? `resumed on the old primary${s.pausedMs !== undefined ? ` after a ${s.pausedMs} ms pause` : ''}` : `resume failed: ${s.reason}`),
      ),
    close() {
      for (const i of instances) clearSafety(i);
    },
  };
}
