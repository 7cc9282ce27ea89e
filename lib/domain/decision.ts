import type { DecisionEvent } from './events.ts';

/** What decide answers: the events to append, or a refusal with a reason a person can act on. */
export type Decision = { ok: true; events: DecisionEvent[] } | { ok: false; reason: string };

export const accept = (events: DecisionEvent[]): Decision => ({ ok: true, events });
export const refuse = (reason: string): Decision => ({ ok: false, reason });
