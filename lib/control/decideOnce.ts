import type { Command } from '../domain/commands.ts';
import { decide } from '../domain/decide.ts';
import type { DecisionEvent } from '../domain/events.ts';
import type { NodeObservation } from '../domain/observation.ts';
import type { ClusterState } from '../domain/state.ts';
import { commitDecision } from '../store/commitDecision.ts';
import type { ControlPlane } from './controlPlane.ts';
import { withObservations } from './commitCommand.ts';
import { react } from './reactor.ts';

export { OBSERVATION_WINDOW_MS } from './commitCommand.ts';

export type DecideOutcome =
  | { ok: true; seq: number; events: DecisionEvent[]; state: ClusterState }
  | { ok: false; reason: string; refused: boolean };

/** Commands that look at the cluster are given the latest observations; the rest are not. */
type Observing = Extract<Command, { observations: NodeObservation[] }>;
export type CommandWithoutObservations = Command extends infer C ? (C extends Observing ? Omit<C, 'observations'> : C) : never;

/**
 * One decide run: read the latest observations, fold the log, decide, append, then let
 * the reactor carry out the intents that are pending. Every write to the decision log
 * goes through here, on Lambda and in local mode alike.
 */
export async function decideOnce(cp: ControlPlane, cluster: string, command: CommandWithoutObservations): Promise<DecideOutcome> {
  const full = await withObservations(cp.store, cluster, command, cp.log);
  if (!full.ok) return { ok: false, reason: full.reason, refused: false };
  const committed = await commitDecision(cp.store, cluster, (state) => decide(full.command, state));
  if (!committed.ok) return { ok: false, reason: committed.reason, refused: committed.refused ?? false };
  if (committed.events.length > 0) {
    cp.log({ level: 'info', msg: 'decided', cluster, seq: committed.seq, command: command.type, events: committed.events.map((e) => e.type) });
    // Counted once, by the run whose append won: a retried or duplicated run appends nothing new.
    const started = committed.events.filter((e) => e.type === 'FailoverStarted').length;
    if (started > 0) cp.metrics?.failoverStarted(cluster, started);
  }
  cp.faults?.('appended');
  await react(cp, cluster, committed.state, (c) => decideOnce(cp, cluster, c));
  return { ok: true, seq: committed.seq, events: committed.events, state: committed.state };
}
