import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const containerScript = fileURLToPath(new URL('./lambdaContainer.ts', import.meta.url));

const Reply = z.union([
  z.object({ ready: z.literal(true) }),
  z.object({ requestId: z.string(), answer: z.unknown() }),
  z.object({ requestId: z.string(), error: z.string() }),
]);

export interface FunctionConfig {
  name: string;
  /** The handler module: the function's bundle (an absolute path). */
  module: string;
  timeoutMs: number;
  /** The function's environment, as the stack sets it. */
  env: Record<string, string>;
  /** Where the containers' stdout and stderr (the handlers' JSON log lines) go. */
  logPath: string;
}

interface Container {
  child: ChildProcess;
  busy: boolean;
  ready: Promise<void>;
  waiting: Map<string, (r: { ok: true; answer: unknown } | { ok: false; error: string }) => void>;
}

/**
 * The containers of one function, each its own process (lambdaContainer.ts), as Lambda runs
 * them: an invocation goes to an idle container or a new one, one invocation per container at a
 * time; a container whose invocation outlives the function's timeout is killed ("Task timed
 * out"), and the next invocation gets a fresh one, cold.
 */
export class FunctionContainers {
  private readonly containers: Container[] = [];
  private readonly log: WriteStream;
  /** How many containers were started (cold starts). */
  coldStarts = 0;
  /** The request id (the context's awsRequestId) of each invocation, in the order they came. */
  readonly requestIds: string[] = [];
  private stopped = false;

  constructor(private readonly fn: FunctionConfig) {
    this.log = createWriteStream(fn.logPath, { flags: 'a' });
  }

  async invoke(event: unknown): Promise<unknown> {
    if (this.stopped) throw new Error(`${this.fn.name} is stopped`);
    const c = this.containers.find((x) => !x.busy && x.child.exitCode === null) ?? this.start();
    c.busy = true;
    try {
      await c.ready;
      const requestId = randomUUID();
      this.requestIds.push(requestId);
      const deadline = Date.now() + this.fn.timeoutMs;
      const answer = await new Promise<{ ok: true; answer: unknown } | { ok: false; error: string }>((resolve) => {
        const timer = setTimeout(() => {
          c.child.kill('SIGKILL');
          resolve({ ok: false, error: `Task timed out after ${this.fn.timeoutMs / 1000} seconds` });
        }, this.fn.timeoutMs);
        c.waiting.set(requestId, (r) => {
          clearTimeout(timer);
          resolve(r);
        });
        c.child.send({ requestId, functionName: this.fn.name, deadline, event });
      });
      if (!answer.ok) throw new Error(answer.error);
      return answer.answer;
    } finally {
      c.busy = false;
    }
  }

  private start(): Container {
    this.coldStarts++;
    const child = fork(containerScript, [this.fn.module], {
      cwd: repo,
      execArgv: ['--import', 'tsx'],
      // Only what the stack sets, and what a Lambda runtime always has.
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LANG: 'C.UTF-8', AWS_LAMBDA_FUNCTION_NAME: this.fn.name, ...this.fn.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child.stdout!.pipe(this.log, { end: false });
    child.stderr!.pipe(this.log, { end: false });
    let readyNow: () => void = () => {};
    let failReady: (e: Error) => void = () => {};
    const c: Container = { child, busy: false, waiting: new Map(), ready: new Promise<void>((res, rej) => ((readyNow = res), (failReady = rej))) };
    child.on('message', (raw: unknown) => {
      const m = Reply.safeParse(raw);
      if (!m.success) return;
      if ('ready' in m.data) return readyNow();
      const done = c.waiting.get(m.data.requestId);
      c.waiting.delete(m.data.requestId);
      done?.('error' in m.data ? { ok: false, error: m.data.error } : { ok: true, answer: m.data.answer });
    });
    child.on('exit', (code, signal) => {
      failReady(new Error(`${this.fn.name} container exited (${signal ?? code}) before it was ready`));
      for (const done of c.waiting.values()) done({ ok: false, error: `Runtime exited (${signal ?? code})` });
      c.waiting.clear();
      const i = this.containers.indexOf(c);
      if (i !== -1) this.containers.splice(i, 1);
    });
    this.containers.push(c);
    return c;
  }

  /** Ends every container of this function (by its pid): a stop that does not wait for invocations in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(
      [...this.containers].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.child.exitCode !== null || c.child.signalCode !== null) return resolve();
            c.child.once('exit', () => resolve());
            c.child.kill('SIGKILL');
          }),
      ),
    );
    await new Promise<void>((r) => this.log.end(() => r()));
  }
}
