import { accept, type Decision } from './decision.ts';
import { DecisionEvent, intentId, type ActionName, type DecisionEventType, type EventOf, type Intent } from './events.ts';
import { evolve } from './evolve.ts';
import { parseWith } from './parse.ts';
import type { ClusterState } from './state.ts';

type Fields<T extends DecisionEventType> = Omit<EventOf<T>, 'v' | 'at' | 'term' | 'reason' | 'type'>;

/**
 * The events one decide call emits, folded as they are added, so each later rule sees
 * the state the earlier ones produced (a failover started in this call is in progress).
 */
export class Outcome {
  readonly events: DecisionEvent[] = [];
  state: ClusterState;

  constructor(
    initial: ClusterState,
    readonly now: number,
  ) {
    this.state = initial;
  }

  emit<T extends DecisionEventType>(type: T, term: number, reason: string, fields: Fields<T>): EventOf<T> {
    // Parsed as every later load will parse it: an event that doesn't is a bug in decide, and
    // throwing here keeps it out of the log, where it would make every load refuse the log.
    const parsed = parseWith(DecisionEvent, { v: 1, type, at: this.now, term, reason, ...fields }, `decide emitted an unreadable ${type} event`);
    if (!parsed.ok) throw new Error(parsed.reason);
    const event = parsed.value as EventOf<T>;
    this.events.push(event);
    this.state = evolve(this.state, event);
    return event;
  }

  /** Ask for an action unless the same intent is in flight or was answered less than actionTimeoutMs ago. */
  request(
    action: ActionName,
    node: string,
    term: number,
    reason: string,
    extra: Partial<Pick<Intent, 'primary' | 'minLsn' | 'readers' | 'detach'>> & { key?: string } = {},
  ): boolean {
    const readers = extra.readers ?? null;
    // A distinct key makes a distinct intent: new evidence is not held back by an older attempt's cooldown.
    const key = extra.key ?? (action === 'endpoints' ? (readers ?? []).join(',') : null);
    const id = key === null ? intentId(term, action, node) : `${intentId(term, action, node)}:${key}`;
    if (!this.mayRequest(id)) return false;
    const intent: Intent = { id, action, node, term, primary: extra.primary ?? null, minLsn: extra.minLsn ?? null, readers, detach: extra.detach ?? false };
    this.emit('ActionRequested', term, reason, { intent });
    return true;
  }

  mayRequest(id: string): boolean {
    if (this.state.pending.some((p) => p.intent.id === id)) return false;
    const last = this.state.lastOutcomeAt[id];
    const wait = this.state.spec?.timing.actionTimeoutMs ?? 0;
    return last === undefined || this.now - last >= wait;
  }

  pendingFor(action: ActionName, node: string): boolean {
    return this.state.pending.some((p) => p.intent.action === action && p.intent.node === node);
  }

  result(): Decision {
    return accept(this.events);
  }
}
