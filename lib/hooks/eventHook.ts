import { spawn } from 'node:child_process';
import { hookEventNode, type HookEvent } from './hookedEvents.ts';

/** How long a hook may run before its process group is killed. */
export const defaultHookTimeoutMs = 10_000;
/** The tail of the hook's stderr kept for the log when it fails. */
const STDERR_TAIL = 2_048;

export type HookOutcome =
  | { ok: true; ms: number }
  | { ok: false; ms: number; reason: string; stderr: string };

/**
 * The environment a hook runs with: PATH and HOME from pgvigil's own, and the event's fields.
 * Nothing else of the parent's (no AWS keys, no PG* passwords, no tokens) reaches the command.
 */
export function hookEnv(e: HookEvent, inherited: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {
    PATH: inherited['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: inherited['HOME'] ?? '/',
    PGVIGIL_EVENT_TYPE: e.type,
    PGVIGIL_CLUSTER: e.cluster,
    PGVIGIL_TERM: String(e.term),
    PGVIGIL_SEQ: String(e.seq),
    PGVIGIL_INDEX: String(e.index),
    PGVIGIL_AT: new Date(e.at).toISOString(),
    PGVIGIL_REASON: e.reason,
  };
  const node = hookEventNode(e);
  if (node !== null) env['PGVIGIL_NODE'] = node;
  if ('kind' in e) env['PGVIGIL_KIND'] = e.kind;
  if ('from' in e && e.from !== null) env['PGVIGIL_FROM'] = e.from;
  if ('to' in e && e.to !== null) env['PGVIGIL_TO'] = e.to;
  return env;
}

/**
 * Run `command` through `/bin/sh -c` for one event: the event as JSON on stdin, its fields in
 * the environment. The shell leads its own process group; past `timeoutMs` the whole group
 * gets SIGKILL, so a hook's children do not outlive its bound. Never throws.
 */
export function runEventHook(command: string, event: HookEvent, timeoutMs = defaultHookTimeoutMs): Promise<HookOutcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const finish = (outcome: HookOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const child = spawn('/bin/sh', ['-c', command], { detached: true, env: hookEnv(event), stdio: ['pipe', 'ignore', 'pipe'] });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    child.on('error', (e) => finish({ ok: false, ms: Date.now() - started, reason: `could not start /bin/sh: ${e.message}`, stderr }));
    // Done at 'exit', not 'close': a child the hook left in the background may hold stderr
    // open. Its last lines are read for a short while after the shell exits.
    child.on('exit', (code, signal) => {
      const ms = Date.now() - started;
      const outcome = (): HookOutcome => {
        if (timedOut) return { ok: false, ms, reason: `killed after ${timeoutMs} ms (the hook's time bound)`, stderr };
        if (code === 0) return { ok: true, ms };
        return { ok: false, ms, reason: code !== null ? `exited with ${code}` : `ended by ${signal}`, stderr };
      };
      const late = setTimeout(() => child.stderr.destroy(), 200);
      child.stderr.once('close', () => (clearTimeout(late), finish(outcome())));
      if (child.stderr.closed) (clearTimeout(late), finish(outcome()));
    });
    // A hook that never reads stdin closes it early: EPIPE is no failure of the hook.
    child.stdin.on('error', () => {});
    child.stdin.end(`${JSON.stringify(event)}\n`);
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
