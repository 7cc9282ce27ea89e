import type { DecisionEvent } from '../domain/events.ts';
import type { Log } from '../log.ts';
import { defaultHookTimeoutMs, runEventHook, type HookOutcome } from './eventHook.ts';
import { hookEventsOf, type HookEvent } from './hookedEvents.ts';

export interface HookQueueOptions {
  /** The command, run through /bin/sh -c for each event. */
  command: string;
  log: Log;
  timeoutMs?: number;
  /** Events waiting at most; past it the oldest waiting one is dropped (default 100). */
  maxQueued?: number;
  /** Each hook's outcome, for tests and metrics. */
  onOutcome?: (event: HookEvent, outcome: HookOutcome) => void;
}

/**
 * Runs the event hook once per event, one at a time, in log order, beside the control plane:
 * `enqueue` only appends, so decide, the reactor and a failover never wait for a hook. A hook
 * that fails or overruns its bound is logged and changes nothing. If hooks fall far behind,
 * the oldest waiting events are dropped (the latest say where the cluster is now), and the
 * count is logged before the next hook runs.
 */
export class HookQueue {
  private readonly waiting: HookEvent[] = [];
  private running: Promise<void> | null = null;
  private dropped = 0;
  private closed = false;

  constructor(private readonly opts: HookQueueOptions) {}

  /** Queue the hooked events of one decision (seq), in order. Returns at once. */
  enqueueDecision(cluster: string, seq: number, events: readonly DecisionEvent[]): void {
    for (const e of hookEventsOf(cluster, seq, events)) this.enqueue(e);
  }

  enqueue(event: HookEvent): void {
    if (this.closed) return;
    this.waiting.push(event);
    const max = this.opts.maxQueued ?? 100;
    while (this.waiting.length > max) {
      this.waiting.shift();
      this.dropped++;
    }
    this.running ??= this.run().finally(() => (this.running = null));
  }

  /** Events waiting, the one running aside. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves once every queued event has had its hook run (or given up). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Take no more events and let those queued run for at most `graceMs` (the running hook is
   * bounded by its own timeout); whatever is still waiting then is dropped, with a count logged.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const gave = await Promise.race([this.drain().then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
    clearTimeout(timer);
    if (gave && this.waiting.length > 0) {
      this.dropped += this.waiting.splice(0).length;
      this.reportDropped();
    }
    await this.running;
  }

  private async run(): Promise<void> {
    for (let e = this.waiting.shift(); e !== undefined; e = this.waiting.shift()) {
      this.reportDropped();
      const outcome = await runEventHook(this.opts.command, e, this.opts.timeoutMs ?? defaultHookTimeoutMs);
      const about = { event: e.type, cluster: e.cluster, seq: e.seq, index: e.index, ms: outcome.ms };
      if (outcome.ok) this.opts.log({ level: 'debug', msg: 'event hook ran', ...about });
      else this.opts.log({ level: 'warn', msg: 'event hook failed', ...about, reason: outcome.reason, stderr: outcome.stderr });
      this.opts.onOutcome?.(e, outcome);
    }
  }

  private reportDropped(): void {
    if (this.dropped === 0) return;
    this.opts.log({ level: 'warn', msg: 'event hook fell behind: events dropped, oldest first', dropped: this.dropped, maxQueued: this.opts.maxQueued ?? 100 });
    this.dropped = 0;
  }
}
