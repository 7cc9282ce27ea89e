import type { CommandWithoutObservations } from '../domain/commands.ts';
import { parseWith } from '../domain/parse.ts';
import { loadState } from '../store/loadState.ts';
import type { ControlPlane } from './controlPlane.ts';
import { ActInvoke } from './lambdaEvents.ts';
import type { Invoke } from './lambdaInvoke.ts';
import { carryOut } from './reactor.ts';

export type ActAnswer =
  | { ok: true; intentId: string; action: string; succeeded: boolean; reason: string }
  | { ok: true; intentId: string; skipped: string }
  | { ok: false; refused: boolean; reason: string };

/** How act's result reaches decide: an actionResult command, which decide commits (and hands on the next intents). */
export type ReportResult = (cluster: string, command: CommandWithoutObservations) => Promise<{ ok: true } | { ok: false; reason: string }>;

/**
 * The act function: one intent decide handed on, carried out outside the stream invocation.
 * The intent is read from the log, not taken from the event: a hand-off delivered twice, or
 * late, finds it answered and does nothing. act writes no decision; its result goes back
 * to decide, the one writer of the log.
 */
export async function handleActEvent(event: unknown, cp: ControlPlane, report: ReportResult): Promise<ActAnswer> {
  const parsed = parseWith(ActInvoke, event, 'act event');
  if (!parsed.ok) return { ok: false, refused: true, reason: parsed.reason };
  const { cluster, intentId } = parsed.value;
  const loaded = await loadState(cp.store, cluster);
  if (!loaded.ok) return { ok: false, refused: false, reason: loaded.reason };
  const pending = loaded.state.pending.find((p) => p.intent.id === intentId);
  if (!pending) return { ok: true, intentId, skipped: 'no longer pending: answered already, or never asked' };
  const outcome = await carryOut(cp, loaded.state, pending.intent);
  const reported = await report(cluster, { type: 'actionResult', now: cp.clock(), intentId, ok: outcome.ok, reason: outcome.reason, detail: outcome.detail });
  // Not recorded: the intent stays pending, and a later decide run hands it on again once the hold runs out.
  if (!reported.ok) return { ok: false, refused: false, reason: `${pending.intent.action} ${outcome.ok ? 'done' : 'failed'} but not recorded: ${reported.reason}` };
  return { ok: true, intentId, action: pending.intent.action, succeeded: outcome.ok, reason: outcome.reason };
}

/**
 * act's report on Lambda: a synchronous invoke of decide with the result. decide's refusal
 * (the intent was answered meanwhile) is an answer too: there is nothing to send again.
 */
export function reportToDecide(invoke: Invoke, decideFunction: string): ReportResult {
  return async (cluster, command) => {
    const sent = await invoke(decideFunction, { source: 'pgvigil.act', cluster, command }, 'RequestResponse');
    if (!sent.ok) return sent;
    const answer = sent.answer as { ok?: unknown; refused?: unknown; reason?: unknown } | null;
    if (answer?.ok === true || answer?.refused === true) return { ok: true };
    return { ok: false, reason: typeof answer?.reason === 'string' ? answer.reason : `decide answered ${JSON.stringify(answer)}` };
  };
}
