import type { CommandOf } from './commands.ts';
import { accept, type Decision } from './decision.ts';
import { maybeStartFailover, progressFailover } from './failoverSteps.ts';
import { restartStoppedPrimary } from './restartPrimary.ts';
import { streamsFrom } from './observation.ts';
import { sameCommitQuorum, specSyncNames } from './syncNames.ts';
import { Outcome } from './outcome.ts';
import { failureWindowMs, type ClusterSpec } from './spec.ts';
import { isDeposed, type ClusterState } from './state.ts';
import { agentRenews, evidence, observedNow, refusesConnections, serverDownAgentUp, evidenceOf, isFailed, isPrimaryNow, isReachable, isStandbyNow, viewNodes, type NodeView } from './view.ts';

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

/** A probe round or a tick: record what changed, then take whatever automatic step is due. */
export function decideObserve(cmd: CommandOf<'probeRound'> | CommandOf<'tick'>, state: ClusterState): Decision {
  const spec = state.spec;
  if (spec === null) return accept([]);
  const o = new Outcome(state, cmd.now);
  const view = viewNodes(spec, cmd.observations, cmd.now);

  // A host that refuses connections answered: the control plane reaches it (nothing listens).
  if (![...view.values()].some((v) => isReachable(v) || refusesConnections(v))) {
    // Rule 1: a control plane that can see nothing does nothing from the first such round; it
    // alerts (ControlPlaneBlind) only once every node has failed as many rounds in a row as
    // NodeDown needs, or has no fresh observation at all: one round of timeouts on a loaded host
    // is not blindness.
    const threshold = spec.timing.failureThreshold;
    if (!state.blindReported && [...view.values()].every((v) => lostToSight(v, threshold))) {
      o.emit('ControlPlaneBlind', state.term, `no node of the cluster has answered the control plane for ${threshold} probes in a row: no automatic action until one does`, {
        evidence: evidence(view),
      });
    } else if (!state.blind) {
      o.emit('ControlPlaneSightLost', state.term, `no node answered this probe round: no automatic action until one does (blind, with an alert, once every node failed ${threshold} in a row)`, {
        evidence: evidence(view),
      });
    }
    return o.result();
  }
  if (state.blind) {
    const reason = state.blindReported ? 'the control plane sees the cluster again' : 'a node answers again after a round that reached none (below the failure threshold: no alert was raised)';
    o.emit('ControlPlaneSighted', state.term, reason, { blindReported: state.blindReported });
  }

  recordHealth(o, spec, view);
  if (o.state.paused) return o.result();

  progressFailover(o, spec, view);
  maybeStartFailover(o, spec, view);
  restartStoppedPrimary(o, spec, view);
  if (o.state.failover?.step === 'switching') {
    // The new primary holds the term; an old one fenced only by its lease or the quorum proof
    // that is seen serving again must be stopped now, not once the switch completes.
    stopDeposedPrimaries(o, spec, view, { rewind: false });
  }
  if (o.state.failover === null) {
    stopDeposedPrimaries(o, spec, view, { rewind: true });
    repointStrayStandbys(o, spec, view);
    restartStoppedStandbys(o, spec, view);
    updateReaders(o, spec, view);
  }
  return o.result();
}

/** Out of the control plane's sight for the failure threshold: unseen, failed that many probes in a row, or answering as another cluster. */
function lostToSight(v: NodeView, failureThreshold: number): boolean {
  return v.obs === null || v.obs.foreign || isFailed(v, failureThreshold);
}

/** Node up/down, lag beyond the read limit, the synchronous set: facts worth an audit line. */
function recordHealth(o: Outcome, spec: ClusterSpec, view: Map<string, NodeView>): void {
  const term = o.state.term;
  for (const v of view.values()) {
    const name = v.spec.name;
    if (isFailed(v, spec.timing.failureThreshold) && !o.state.down.includes(name)) {
      o.emit('NodeDown', term, `${name} failed ${v.obs!.consecutiveFailures} probes in a row: ${v.obs!.error?.kind ?? 'unreachable'}`, {
        node: name,
        evidence: evidenceOf(v),
      });
    } else if (isReachable(v) && o.state.down.includes(name)) {
      o.emit('NodeUp', term, `${name} answers again as ${v.obs!.role}`, { node: name, evidence: evidenceOf(v) });
    }
    // The agent's own stop, in the log once: its lease says so when it renews again.
    const stop = v.obs?.lease?.selfFenced;
    if (stop && o.state.selfFenceReported[name] !== stop.at) {
      o.emit('NodeSelfFenced', term, `${name}'s agent stopped its PostgreSQL itself at ${stop.at} (its clock), in term ${stop.term}: ${stop.why}`, {
        node: name,
        fenceTerm: stop.term,
        agentAt: stop.at,
      });
    }
    const lag = isStandbyNow(v) ? v.obs!.lagBytes : null;
    if (lag !== null && lag > spec.readLagLimit && !o.state.lagging.includes(name)) {
      o.emit('LagExceeded', term, `${name} is ${lag} bytes behind, beyond readLagLimit ${spec.readLagLimit}: no reads go to it`, { node: name, lagBytes: lag });
    } else if (lag !== null && lag <= spec.readLagLimit && o.state.lagging.includes(name)) {
      o.emit('LagRecovered', term, `${name} is back within readLagLimit (${lag} bytes behind)`, { node: name, lagBytes: lag });
    }
  }
  const primary = o.state.primary;
  const pv = primary ? view.get(primary) : undefined;
  if (primary && isPrimaryNow(pv)) {
    const members = pv!.obs!.replication
      .filter((r) => r.syncState === 'sync' || r.syncState === 'quorum')
      .map((r) => r.name)
      .filter((n) => spec.nodes.some((s) => s.name === n))
      .sort();
    if (!sameSet(members, o.state.syncSet)) {
      o.emit('SyncSetChanged', term, `${primary} reports synchronous standbys: ${members.join(', ') || 'none'}`, { members });
    }
    reportSyncNames(o, spec, primary, pv!.obs!.synchronousStandbyNames, term, '', pv!.obs!.walLsn);
  }
}

/**
 * Rule 5: an old primary that comes back is stopped, then (`rewind`, with no failover in
 * progress) rewound to follow the new one.
 */
function stopDeposedPrimaries(o: Outcome, spec: ClusterSpec, view: Map<string, NodeView>, { rewind }: { rewind: boolean }): void {
  const s = o.state;
  if (s.primary === null) return;
  for (const [name, since] of Object.entries(s.deposed)) {
    if (name === s.primary) continue;
    const v = view.get(name);
    if (!v?.obs) continue;
    if (isPrimaryNow(v)) {
      o.request('fence', name, s.term, `${name} answers as a primary but ${s.primary} holds term ${s.term}: stop it before it takes a write`, {
        key: 'deposed',
      });
      continue;
    }
    if (!rewind || (isStandbyNow(v) && streamsFrom(v.obs, s.primary))) continue;
    // The lease must have moved since the node was deposed: a renewal from before then may be a dead agent's last.
    const agentAlive = agentRenews(v, o.now, spec.timing.leaseTtlMs, since);
    // A rewind needs a running primary to copy from: asking while it is down only fails.
    if (agentAlive && !o.pendingFor('fence', name) && isPrimaryNow(view.get(s.primary))) {
      o.request('rewind', name, s.term, `${name}'s agent is back: rewind it onto ${s.primary}'s timeline and let it follow`, { primary: s.primary });
    }
  }
}

/** A standby streaming from anything but the primary is re-pointed. */
function repointStrayStandbys(o: Outcome, spec: ClusterSpec, view: Map<string, NodeView>): void {
  const s = o.state;
  const primary = s.primary;
  if (primary === null || !isPrimaryNow(view.get(primary))) return;
  for (const v of view.values()) {
    const name = v.spec.name;
    if (name === primary || isDeposed(s, name) || !isStandbyNow(v)) continue;
    const upstream = v.obs!.walReceiver?.upstream ?? null;
    if (upstream !== null && upstream !== primary) {
      o.request('follow', name, s.term, `${name} streams from ${upstream}, not from the primary ${primary}`, { primary });
    } else if (upstream === null) {
      // A standby that follows no one (detached before a promotion and never re-pointed, say)
      // gives the primary no quorum and serves stale reads. A receiver merely reconnecting is
      // back within the failure window; only one gone for longer is brought back. It may have
      // WAL the new primary lacks (a follow then answers "diverged"), so it is rewound: a
      // rewind of a node that has not diverged only re-points it.
      const since = v.obs!.receiverSince;
      const alone = since === null ? 0 : observedNow(view, o.now) - since;
      if (since !== null && alone > failureWindowMs(spec.timing)) {
        o.request('rewind', name, s.term, `${name} has followed no one for ${alone} ms: rewind it onto ${primary} if it diverged, and let it follow`, { primary });
      }
    }
  }
}

/**
 * Issue 13 item 8: a standby whose PostgreSQL is down (connections refused for the failure
 * threshold: nothing listens) while its agent runs (its lease moved over a TTL after the first
 * failed probe), as after a host power cycle where systemd starts only the agent, is started again as a
 * standby of the primary: a follow, which starts a stopped server in recovery; with no primary in
 * sight, a `start` in recovery as it was. Never a node the
 * log has as primary (rule 1 fails it over) or deposed (rule 5 rewinds it), and nothing while
 * another action on the node is in flight (a rewind or clone stops it on purpose).
 */
function restartStoppedStandbys(o: Outcome, spec: ClusterSpec, view: Map<string, NodeView>): void {
  const s = o.state;
  const primary = s.primary;
  if (primary === null) return;
  const primaryInSight = isPrimaryNow(view.get(primary));
  for (const v of view.values()) {
    const name = v.spec.name;
    if (name === primary || isDeposed(s, name) || !serverDownAgentUp(v, spec.timing.failureThreshold, spec.timing.leaseTtlMs, o.now)) continue;
    const obs = v.obs!;
    if (s.pending.some((p) => p.intent.node === name)) continue;
    const down = `${name}'s PostgreSQL refuses connections (${obs.consecutiveFailures} probes in a row) but its agent renews its lease`;
    if (primaryInSight) {
      o.request('follow', name, s.term, `${down}: start it as a standby of ${primary}, the primary of term ${s.term}`, { primary, key: 'restart' });
    } else {
      // No primary in sight to follow (a follow needs its upstream), and maybe none until a
      // failover: a standby that stays down is never a candidate, its WAL unseen (the partition
      // lab's power-cycled candidate). Started in recovery where it stands, it is seen again;
      // in recovery it can take no write, so this changes no proof.
      o.request('start', name, s.term, `${down}, and no primary is in sight to follow: start it in recovery as it was, so its WAL is seen and it can be a candidate`, { key: 'restart' });
    }
  }
}

/** The reader endpoint serves standbys that stream from the primary within readLagLimit. */
function updateReaders(o: Outcome, spec: ClusterSpec, view: Map<string, NodeView>): void {
  const s = o.state;
  const primary = s.primary;
  if (primary === null || !isPrimaryNow(view.get(primary))) return;
  const readers = [...view.values()]
    .filter((v) => v.spec.name !== primary && isStandbyNow(v) && streamsFrom(v.obs!, primary) && (v.obs!.lagBytes ?? 0) <= spec.readLagLimit)
    .map((v) => v.spec.name)
    .sort();
  if (s.writer === primary && sameSet(readers, s.readers)) return;
  if (o.pendingFor('endpoints', primary)) return;
  o.request('endpoints', primary, s.term, `readers become ${readers.join(', ') || 'none (the writer serves reads)'}: the standbys streaming from ${primary} within readLagLimit`, {
    readers,
  });
}

/**
 * Rule 2, issue 12 path 2: the quorum the decider reasons about must be the one PostgreSQL
 * enforces. Each change of the primary's setting, or of what the spec asks, is recorded; a
 * mismatch is an alert, and until it is gone no quorum proof or quorum candidate counts.
 */
export function reportSyncNames(o: Outcome, spec: ClusterSpec, primary: string, value: string | null, term: number, source = '', walLsn?: string | null): void {
  // Async mode reasons about no quorum: what the primary waits for is its own business there.
  if (value === null || spec.replication.mode !== 'synchronous') return;
  const expected = specSyncNames(spec);
  const prev = o.state.primarySyncNames;
  if (prev && prev.node === primary && prev.value === value && prev.expected === expected) return;
  const matches = sameCommitQuorum(value, expected, primary);
  const reason = matches
    ? `${primary} commits with synchronous_standby_names '${value}'${source}, the quorum the spec asks`
    : `${primary} commits with synchronous_standby_names '${value}'${source} but the spec asks '${expected}': no quorum proof or quorum candidate counts until they agree (the agents write the spec's value)`;
  o.emit('SyncNamesReported', term, reason, { node: primary, value, expected, matches, ...(walLsn === undefined ? {} : { walLsn }) });
}
