import { needsObservations, type Command, type CommandWithoutObservations } from '../domain/commands.ts';
import { decide } from '../domain/decide.ts';
import type { NodeObservation } from '../domain/observation.ts';
import { commitDecision, type CommitResult } from '../store/commitDecision.ts';
import { latestObservations, OBSERVATION_WINDOW_MS } from '../store/observations.ts';
import type { Store } from '../store/store.ts';
import { type Log, silentLog } from '../log.ts';

/** Defined in lib/store beside the observations it bounds, so the prober (lib/probe) reads the same window. */
export { OBSERVATION_WINDOW_MS };

/** The command as decide takes it: with the latest observation of every node when it looks at the cluster. */
export async function withObservations(
  store: Store,
  cluster: string,
  command: CommandWithoutObservations,
  log: Log = silentLog,
): Promise<{ ok: true; command: Command } | { ok: false; reason: string }> {
  if (!needsObservations(command)) return { ok: true, command: command as Command };
  const read = await latestObservations(store, cluster, command.now - OBSERVATION_WINDOW_MS);
  if (!read.ok) return read;
  if (read.unreadable.length > 0) log({ level: 'warn', msg: 'unreadable observations ignored', cluster, unreadable: read.unreadable });
  const observations: NodeObservation[] = read.observations;
  return { ok: true, command: { ...command, observations } as Command };
}

/**
 * Decide one command and append its decision, without carrying out its intents.
 * decideOnce adds the reactor; in local mode the CLI calls this alone: the running
 * `pgvigil up` owns the agents' key and the proxy, and its control loop executes the
 * pending intents on its next decide run.
 */
export async function commitCommand(store: Store, cluster: string, command: CommandWithoutObservations, log: Log = silentLog): Promise<CommitResult> {
  const full = await withObservations(store, cluster, command, log);
  if (!full.ok) return { ok: false, reason: full.reason, refused: false };
  return commitDecision(store, cluster, (state) => decide(full.command, state));
}
