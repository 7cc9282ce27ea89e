import type { DecisionEvent } from '../domain/events.ts';
import { alertsFor, type AlertMessage } from './alertMessage.ts';
import { WebhookSender } from './webhook.ts';

export interface AlertSinkOptions {
  /** Print each alert to stderr. */
  console: boolean;
  webhook?: string;
  onError?: (reason: string) => void;
  onAlert?: (alert: AlertMessage) => void;
}

/** Local mode's alert channels: the console and an optional webhook, fed decision by decision. */
export class AlertSink {
  private readonly webhook: WebhookSender | null;

  constructor(private readonly opts: AlertSinkOptions) {
    this.webhook = opts.webhook ? new WebhookSender({ url: opts.webhook, ...(opts.onError ? { onError: opts.onError } : {}) }) : null;
  }

  publish(cluster: string, events: readonly DecisionEvent[], pausedBefore: boolean): void {
    for (const alert of alertsFor(cluster, events, pausedBefore)) {
      if (this.opts.console) process.stderr.write(`${alert.subject}\n`);
      this.opts.onAlert?.(alert);
      this.webhook?.send(alert);
    }
  }

  drain(): Promise<void> {
    return this.webhook?.drain() ?? Promise.resolve();
  }
}
