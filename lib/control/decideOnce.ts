import type { Command } from '../domain/commands.ts';
import { decide } from '../domain/decide.ts';
import type { DecisionEvent } from '../domain/events.ts';
import type { NodeObservation } from '../domain/observation.ts';
import type { ClusterState } from '../domain/state.ts';
import { commitDecision } from '../store/commitDecision.ts';
import { latestObservations } from '../store/observations.ts';
import type { ControlPlane } from './controlPlane.ts';
import { react } from './reactor.ts';

/**
 * How far back decide looks for each node's latest observation. Observations are rewritten
 * at least every heartbeat, so this only needs to exceed the spec's staleness bound.
 */
export const OBSERVATION_WINDOW_MS = 60_000;

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
  let observations: NodeObservation[] = [];
  if ('now' in command && needsObservations(command)) {
    const read = await latestObservations(cp.store, cluster, command.now - OBSERVATION_WINDOW_MS);
    if (!read.ok) return { ok: false, reason: read.reason, refused: false };
    if (read.unreadable.length > 0) {
      cp.log({ level: 'warn', msg: 'unreadable observations ignored', cluster, unreadable: read.unreadable });
    }
    observations = read.observations;
  }
  const full = (needsObservations(command) ? { ...command, observations } : command) as Command;
  const committed = await commitDecision(cp.store, cluster, (state) => decide(full, state));
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

function needsObservations(command: CommandWithoutObservations): boolean {
  return command.type === 'probeRound' || command.type === 'tick' || command.type === 'switchover' || command.type === 'failover';
}
