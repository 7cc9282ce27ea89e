import type { CommandWithoutObservations } from '../domain/commands.ts';
import type { CommitResult } from '../store/commitDecision.ts';
import { commitCommand } from './commitCommand.ts';
import { decideRunFigures } from './controlMetrics.ts';
import type { ControlPlane } from './controlPlane.ts';
import { react } from './reactor.ts';

export { OBSERVATION_WINDOW_MS } from './commitCommand.ts';

/**
 * One decide run: read the latest observations, fold the log, decide, append, then let
 * the reactor carry out the intents that are pending. Every write to the decision log
 * goes through here, on Lambda and in local mode alike.
 */
export async function decideOnce(cp: ControlPlane, cluster: string, command: CommandWithoutObservations): Promise<CommitResult> {
  const committed = await commitCommand(cp.store, cluster, command, cp.log);
  cp.metrics?.decideRun?.(cluster, decideRunFigures(command.type, committed));
  if (!committed.ok) return committed;
  if (committed.events.length > 0) {
    cp.log({ level: 'info', msg: 'decided', cluster, seq: committed.seq, command: command.type, events: committed.events.map((e) => e.type) });
    // Counted once, by the run whose append won: a retried or duplicated run appends nothing new.
    const started = committed.events.filter((e) => e.type === 'FailoverStarted').length;
    if (started > 0) cp.metrics?.failoverStarted(cluster, started);
  }
  cp.faults?.('appended');
  await react(cp, cluster, committed.state, (c) => decideOnce(cp, cluster, c));
  return committed;
}
