import type { Command } from './commands.ts';
import { decideActionResult } from './decideActionResult.ts';
import { decideAgentRestarted } from './decideAgentRestarted.ts';
import { decideObserve } from './decideObserve.ts';
import {
  decideAbort,
  decideAddNode,
  decideInitialize,
  decideManualFailover,
  decidePause,
  decideRejoin,
  decideRemoveNode,
  decideResume,
  decideSwitchover,
} from './decideOperator.ts';
import type { Decision } from './decision.ts';
import type { ClusterState } from './state.ts';

/** The decider: pure and total. Time comes only from the command. */
export function decide(command: Command, state: ClusterState): Decision {
  switch (command.type) {
    case 'initialize':
      return decideInitialize(command, state);
    case 'probeRound':
    case 'tick':
      return decideObserve(command, state);
    case 'switchover':
      return decideSwitchover(command, state);
    case 'failover':
      return decideManualFailover(command, state);
    case 'pause':
      return decidePause(command, state);
    case 'resume':
      return decideResume(command, state);
    case 'addNode':
      return decideAddNode(command, state);
    case 'removeNode':
      return decideRemoveNode(command, state);
    case 'rejoin':
      return decideRejoin(command, state);
    case 'abort':
      return decideAbort(command, state);
    case 'actionResult':
      return decideActionResult(command, state);
    case 'agentRestarted':
      return decideAgentRestarted(command, state);
    default: {
      const unhandled: never = command;
      return unhandled;
    }
  }
}
