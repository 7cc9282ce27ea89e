import type { CommandOf } from './commands.ts';
import { refuse, type Decision } from './decision.ts';
import { Outcome } from './outcome.ts';
import type { ClusterState } from './state.ts';

/**
 * A node's agent died and its supervisor started it again. Recorded so the restart is in
 * the decision log beside what it may explain (a failed action, a lapsed lease); it changes
 * no failover state: whether the node is healthy is for the probes to say, not its agent's
 * process.
 */
export function decideAgentRestarted(cmd: CommandOf<'agentRestarted'>, state: ClusterState): Decision {
  if (state.spec === null) return refuse('the cluster is not initialized: an agent restart is recorded once it is');
  if (!state.spec.nodes.some((n) => n.name === cmd.node)) return refuse(`unknown node "${cmd.node}": pgvigil status lists the nodes`);
  const how = cmd.signal !== null ? `was killed by ${cmd.signal}` : `exited with code ${cmd.exitCode ?? 'unknown'}`;
  const o = new Outcome(state, cmd.now);
  o.emit('AgentRestarted', state.term, `the agent of ${cmd.node} ${how}; its supervisor restarted it (restart ${cmd.restarts}): ${cmd.reason}`, {
    node: cmd.node,
    exitCode: cmd.exitCode,
    signal: cmd.signal,
    restarts: cmd.restarts,
  });
  return o.result();
}
