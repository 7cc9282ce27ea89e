import { chooseFailoverCandidate, chooseSwitchoverCandidate } from './candidates.ts';
import { SWITCHOVER_TIMEOUT_MS, type CommandOf } from './commands.ts';
import { refuse, type Decision } from './decision.ts';
import { abort, tryFence } from './failoverSteps.ts';
import { otherPrimary, requestRestart } from './restartPrimary.ts';
import { Outcome } from './outcome.ts';
import { parseWith } from './parse.ts';
import { ClusterSpec } from './spec.ts';
import type { ClusterState } from './state.ts';
import { evidence, isFailed, isPrimaryNow, refusesConnections, viewNodes, type NodeView } from './view.ts';

const NOT_INITIALIZED = 'the cluster is not initialized: run `pgvigil init --spec FILE` (or `pgvigil up`) first';

function busy(state: ClusterState): string | null {
  const f = state.failover;
  return f ? `a ${f.kind} from ${f.from} to ${f.to} (term ${f.term}) is in progress: wait for it (pgvigil history --follow)` : null;
}

function knownNode(state: ClusterState, name: string): string | null {
  return state.spec?.nodes.some((n) => n.name === name) ? null : `unknown node "${name}": pgvigil status lists the nodes`;
}

export function decideInitialize(cmd: CommandOf<'initialize'>, state: ClusterState): Decision {
  if (state.spec !== null) return refuse(`cluster ${state.cluster} is already initialized (term ${state.term}, primary ${state.primary})`);
  if (cmd.spec.cluster !== state.cluster) return refuse(`spec is for cluster ${cmd.spec.cluster}, not ${state.cluster}`);
  if (!cmd.spec.nodes.some((n) => n.name === cmd.primary)) return refuse(`primary "${cmd.primary}" is not a node of the spec`);
  const o = new Outcome(state, cmd.now);
  o.emit('ClusterInitialized', 1, `cluster ${cmd.spec.cluster} registered with ${cmd.spec.nodes.length} nodes; ${cmd.primary} is primary of term 1`, {
    spec: cmd.spec,
    primary: cmd.primary,
  });
  return o.result();
}

/** A planned change of primary with zero acknowledged writes lost (rule 6). */
export function decideSwitchover(cmd: CommandOf<'switchover'>, state: ClusterState): Decision {
  const spec = state.spec;
  if (spec === null || state.primary === null) return refuse(NOT_INITIALIZED);
  const why = busy(state) ?? (cmd.to !== null ? knownNode(state, cmd.to) : null);
  if (why) return refuse(why);
  const view = viewNodes(spec, cmd.observations, cmd.now);
  const from = state.primary;
  if (!isPrimaryNow(view.get(from))) return refuse(`the primary ${from} is not healthy: a switchover needs it running; use pgvigil failover --to NODE`);
  const choice = chooseSwitchoverCandidate(spec, view, from, cmd.to);
  if (!choice.ok) return refuse(`switchover refused: ${choice.reason}`);
  // A candidate still being rewound or re-pointed may never stream the old primary's shutdown
  // checkpoint, and the switchover would wait for it without end.
  const inFlight = state.pending.find((p) => p.intent.node === choice.node);
  if (inFlight) return refuse(`switchover refused: ${choice.node} has a ${inFlight.intent.action} in progress (term ${inFlight.intent.term}): retry once it is answered (pgvigil history --follow)`);
  const o = new Outcome(state, cmd.now);
  const term = state.term + 1;
  const timeoutMs = cmd.timeoutMs ?? SWITCHOVER_TIMEOUT_MS;
  o.emit('FailoverStarted', term, `switchover requested by ${cmd.requestedBy}: ${choice.reason}; deadline ${timeoutMs / 1000} s, past which ${from} serves again`, {
    kind: 'switchover',
    from,
    to: choice.node,
    evidence: evidence(view),
    timeoutMs,
  });
  o.request('demote', from, term, `checkpoint and stop ${from} cleanly, and report its shutdown checkpoint`);
  return o.result();
}

/** A manual failover: the operator names the successor; fencing rules still hold. */
export function decideManualFailover(cmd: CommandOf<'failover'>, state: ClusterState): Decision {
  const spec = state.spec;
  if (spec === null || state.primary === null) return refuse(NOT_INITIALIZED);
  const why = busy(state) ?? knownNode(state, cmd.to);
  if (why) return refuse(why);
  const from = state.primary;
  const view = viewNodes(spec, cmd.observations, cmd.now);
  if (cmd.to === from) return restartNamedPrimary(cmd, state, view);
  const failed = isFailed(view.get(from), spec.timing.failureThreshold);
  if (!failed && !cmd.force) {
    return refuse(`the primary ${from} has not failed: use pgvigil switchover --to ${cmd.to} for a planned change, or --force to stop ${from} through its agent`);
  }
  const choice = chooseFailoverCandidate(spec, view, from, cmd.to, state.primarySyncNames, state.inherited);
  if (!choice.ok) return refuse(`failover to ${cmd.to} refused: ${choice.reason}`);
  const o = new Outcome(state, cmd.now);
  const term = state.term + 1;
  o.emit('FailoverStarted', term, `manual failover requested by ${cmd.requestedBy}${cmd.force ? ' (--force)' : ''}: ${choice.reason}`, {
    kind: 'manual',
    from,
    to: cmd.to,
    evidence: evidence(view),
  });
  o.request('fence', from, term, `stop ${from} through its agent before ${cmd.to} is promoted`);
  tryFence(o, spec, view);
  return o.result();
}

/**
 * Issue 13 item 2: `pgvigil failover --to` naming the log's primary, stopped (by itself, or by
 * the control plane: a late fence, a failed switchover) with no failover under way: its agent is
 * asked to start it again as primary (restartPrimary.ts), also where the automatic rule holds
 * back (an aborted failover's candidate may have taken writes as primary: the operator accepts
 * losing them). Never while another node answers as primary.
 */
function restartNamedPrimary(cmd: CommandOf<'failover'>, state: ClusterState, view: Map<string, NodeView>): Decision {
  const primary = cmd.to;
  const v = view.get(primary);
  if (isPrimaryNow(v)) return refuse(`${primary} is already the primary`);
  // Only a server seen down on a host that answers: a host out of sight may still run it.
  if (!refusesConnections(v)) {
    return refuse(`${primary} is the primary and is not seen stopped (${v?.obs ? (v.obs.error?.kind ?? v.obs.role) : 'no fresh observation'}): failover --to ${primary} starts it again only once its host answers and its PostgreSQL refuses connections (pgvigil status)`);
  }
  const other = otherPrimary(view, primary);
  if (other !== null) return refuse(`${other} answers as primary, though the log's primary is ${primary}: not starting ${primary} as a second one (pgvigil status)`);
  const o = new Outcome(state, cmd.now);
  const lost = state.lostCandidate ? `; writes ${state.lostCandidate.node} may have acknowledged as primary of term ${state.lostCandidate.term} are given up` : '';
  const asked = requestRestart(o, primary, `restart of the primary ${primary} requested by ${cmd.requestedBy}${lost}`);
  if (!asked) return refuse(`a restart of ${primary} was just requested: wait for its answer (pgvigil history --node ${primary})`);
  return o.result();
}

export function decidePause(cmd: CommandOf<'pause'>, state: ClusterState): Decision {
  if (state.spec === null) return refuse(NOT_INITIALIZED);
  if (state.paused) return refuse('the cluster is already paused: pgvigil resume ends maintenance mode');
  const o = new Outcome(state, cmd.now);
  o.emit('Paused', state.term, `maintenance mode requested by ${cmd.requestedBy}: no automatic action until resumed`, {});
  return o.result();
}

export function decideResume(cmd: CommandOf<'resume'>, state: ClusterState): Decision {
  if (state.spec === null) return refuse(NOT_INITIALIZED);
  if (!state.paused) return refuse('the cluster is not paused');
  const o = new Outcome(state, cmd.now);
  o.emit('Resumed', state.term, `maintenance mode ended by ${cmd.requestedBy}: automatic failover is on again`, {});
  return o.result();
}

export function decideAddNode(cmd: CommandOf<'addNode'>, state: ClusterState): Decision {
  const spec = state.spec;
  if (spec === null) return refuse(NOT_INITIALIZED);
  const next = parseWith(ClusterSpec, { ...spec, nodes: [...spec.nodes, cmd.node] }, 'add-node refused');
  if (!next.ok) return refuse(next.reason);
  const o = new Outcome(state, cmd.now);
  o.emit('NodeAdded', state.term, `${cmd.node.name} (${cmd.node.host}:${cmd.node.port}) added by ${cmd.requestedBy}`, { node: cmd.node });
  return o.result();
}

export function decideRemoveNode(cmd: CommandOf<'removeNode'>, state: ClusterState): Decision {
  if (state.spec === null) return refuse(NOT_INITIALIZED);
  const why = knownNode(state, cmd.node) ?? busy(state);
  if (why) return refuse(why);
  if (cmd.node === state.primary) return refuse(`${cmd.node} is the primary: switch over to another node first (pgvigil switchover)`);
  const o = new Outcome(state, cmd.now);
  o.emit('NodeRemoved', state.term, `${cmd.node} removed by ${cmd.requestedBy}`, { node: cmd.node });
  return o.result();
}

export function decideRejoin(cmd: CommandOf<'rejoin'>, state: ClusterState): Decision {
  if (state.spec === null || state.primary === null) return refuse(NOT_INITIALIZED);
  const why = knownNode(state, cmd.node) ?? busy(state);
  if (why) return refuse(why);
  if (cmd.node === state.primary) return refuse(`${cmd.node} is the primary: it has nothing to rejoin`);
  if (state.blind) return refuse('the control plane sees no node of the cluster: rejoin once it does (pgvigil status)');
  const o = new Outcome(state, cmd.now);
  const asked = o.request('rewind', cmd.node, state.term, `rejoin requested by ${cmd.requestedBy}: rewind ${cmd.node} and follow ${state.primary}`, {
    primary: state.primary,
  });
  if (!asked) return refuse(`a rewind of ${cmd.node} was just requested: wait for it (pgvigil history --node ${cmd.node})`);
  return o.result();
}

/**
 * Issue 13 item 1: the operator's way out of a failover that does not end (a candidate whose
 * host is gone, endpoints that keep failing). A candidate whose promotion was asked for may be
 * primary of the failover's term: its agent is asked to stop it, and evolve deposes it, so
 * whenever it comes back it is stopped or rewound, never trusted. Once the promotion is a fact
 * (switching), the new primary stays primary: only the failover ends, and the endpoints follow
 * it on the next round as for any primary.
 */
export function decideAbort(cmd: CommandOf<'abort'>, state: ClusterState): Decision {
  if (state.spec === null) return refuse(NOT_INITIALIZED);
  const f = state.failover;
  if (f === null) return refuse('no failover is in progress: nothing to abort (pgvigil status shows the cluster)');
  const o = new Outcome(state, cmd.now);
  const by = `aborted by ${cmd.requestedBy}: ${cmd.reason}`;
  if (f.step === 'switching') {
    abort(o, f, `${f.kind} ${f.from} → ${f.to} of term ${f.term} ${by}; ${f.to}'s promotion is a fact, so it stays primary and the endpoints follow it from the next round`);
    return o.result();
  }
  if (f.promoteRequested) {
    o.request('fence', f.to, f.term, `${by}: stop ${f.to}, whose promotion was asked for, so it can never serve as primary of term ${f.term}`, { key: 'abort' });
  }
  const then = f.promoteRequested
    ? `${f.to} is deposed: it is stopped or rewound whenever it answers`
    : `${f.to} was never asked to promote and stays a standby`;
  abort(o, f, `${f.kind} ${f.from} → ${f.to} of term ${f.term} ${by}, at step ${f.step}; ${then}; ${state.primary} is the primary of the log again, and the next round may fail it over anew`);
  return o.result();
}
