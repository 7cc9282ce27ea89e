import type { AlertMessage } from './alertMessage.ts';

export interface WebhookOptions {
  url: string;
  attempts?: number;
  timeoutMs?: number;
  onError?: (reason: string) => void;
}

/**
 * Posts alerts as JSON, in order, with retries. `send` only queues: the caller (decide)
 * never waits for a slow or dead receiver.
 */
export class WebhookSender {
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly opts: WebhookOptions) {}

  send(alert: AlertMessage): void {
    this.queue = this.queue.then(() => this.post(alert));
  }

  /** Resolves once every queued alert was delivered or given up on. */
  drain(): Promise<void> {
    return this.queue;
  }

  private async post(alert: AlertMessage): Promise<void> {
    const attempts = this.opts.attempts ?? 5;
    let last = '';
    for (let i = 1; i <= attempts; i++) {
      try {
        const res = await fetch(this.opts.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(alert),
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 3_000),
        });
        if (res.ok) return;
        last = `HTTP ${res.status}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** i)));
    }
    this.opts.onError?.(`webhook ${new URL(this.opts.url).origin} gave up after ${attempts} attempts: ${last}`);
  }
}
