import { compareLsn, lsnDiff, maxLsn } from './lsn.ts';
import type { NodeObservation } from './observation.ts';
import type { ClusterSpec } from './spec.ts';
import { quorumArithmeticHolds, type ReportedSyncNames } from './syncNames.ts';
import { isStandbyNow, receivedLsn, standbysStreamingFrom, type NodeView } from './view.ts';

export type CandidateChoice = { ok: true; node: string; reason: string } | { ok: false; reason: string };

interface Ranked {
  name: string;
  priority: number;
  lsn: string;
}

const byPriorityThenLsn = (a: Ranked, b: Ranked): number =>
  b.priority - a.priority || compareLsn(b.lsn, a.lsn) || a.name.localeCompare(b.name);

function pick(ranked: Ranked[], to: string | null, refusals: Map<string, string>, rule: string): CandidateChoice {
  if (to !== null) {
    const chosen = ranked.find((r) => r.name === to);
    if (chosen) return { ok: true, node: to, reason: `${to} chosen by the operator; ${rule}` };
    return { ok: false, reason: refusals.get(to) ?? `${to} is not a standby of this cluster` };
  }
  const best = ranked.sort(byPriorityThenLsn)[0];
  if (best) return { ok: true, node: best.name, reason: `${best.name} has priority ${best.priority} and LSN ${best.lsn}; ${rule}` };
  const why = [...refusals.entries()].map(([n, r]) => `${n}: ${r}`).join('; ');
  return { ok: false, reason: `no standby qualifies${why ? ` (${why})` : ''}` };
}

/**
 * Rule 2 for a failed primary. Synchronous quorum (ANY k of N): a commit reached k
 * standbys, so only N-k+1 of them together are sure to hold every acknowledged commit;
 * the candidate must have the highest received LSN among at least that many.
 * Async: no standby further behind the primary's last known LSN than maximumLagOnFailover.
 */
export function chooseFailoverCandidate(
  spec: ClusterSpec,
  view: Map<string, NodeView>,
  from: string,
  to: string | null,
  reported: ReportedSyncNames | null,
  inherited: Inherited | null = null,
): CandidateChoice {
  const refusals = new Map<string, string>();
  const standbys = spec.nodes.filter((n) => n.name !== from);
  for (const n of standbys) {
    const v = view.get(n.name);
    if (!isStandbyNow(v)) refusals.set(n.name, 'not a reachable standby');
    else if (n.tags.nofailover) refusals.set(n.name, 'tagged nofailover');
    else if (receivedLsn(v!) === null) refusals.set(n.name, 'reports no received LSN');
  }
  const usable = (name: string): boolean => !refusals.has(name);

  if (spec.replication.mode === 'synchronous') {
    // The arithmetic below is the spec's quorum: it must be the one the old primary committed with.
    const arithmetic = quorumArithmeticHolds(spec, reported, from);
    if (!arithmetic.ok) return arithmetic;
    const quorumMembers = standbys.filter((n) => !n.tags.nosync);
    const needed = quorumMembers.length - spec.replication.quorum + 1;
    // LSNs compare only on one timeline. A member reporting an older timeline than the failed
    // primary's may never have received its WAL (what it has past the switch point diverged), or
    // may report a stale one (read from its control file once its receiver is gone): it can't be
    // the candidate, and its LSN still counts towards the highest, so no other member is chosen
    // over WAL it may hold. One whose timeline is unknown is not seen.
    const primaryTl = view.get(from)?.obs?.lastKnownTimeline ?? null;
    const tlOf = (name: string): number | null => view.get(name)?.obs?.timeline ?? null;
    const behindTl = (name: string): boolean => primaryTl !== null && tlOf(name) !== null && tlOf(name)! < primaryTl;
    const seen = quorumMembers.filter((n) => isStandbyNow(view.get(n.name)) && receivedLsn(view.get(n.name)!) !== null && (primaryTl === null || tlOf(n.name) !== null));
    for (const n of seen) {
      if (behindTl(n.name)) refusals.set(n.name, refusals.get(n.name) ?? `reports timeline ${tlOf(n.name)}, behind ${from}'s timeline ${primaryTl}: it may lack ${from}'s commits`);
    }
    if (seen.length < needed) {
      return {
        ok: false,
        reason: `synchronous quorum ANY ${spec.replication.quorum} of ${quorumMembers.length}: ${needed} members must be reachable to know which holds every acknowledged commit, ${seen.length} are (${seen.map((n) => n.name).join(', ') || 'none'})`,
      };
    }
    const top = maxLsn(seen.map((n) => receivedLsn(view.get(n.name)!)!));
    if (top === undefined) return { ok: false, reason: `no standby of ${from} may be synchronous (every other node is tagged nosync), so none can be shown to hold its acknowledged commits` };
    const before = inheritedUpTo(view, from, inherited);
    if (before !== undefined && (before === null || compareLsn(top, before) < 0)) {
      return {
        ok: false,
        reason:
          before === null
            ? `${from} was promoted at an unknown position and its last LSN is unknown: the commits it inherited from the primary before it may be on ${from} alone`
            : inherited!.since === 'syncNames'
              ? `${from}'s synchronous_standby_names changed at ${before}: the commits before it were acknowledged under its earlier setting, which may have counted members the spec no longer has, and may be on ${from} and those alone until a member receives that far (the highest reachable quorum member has ${top})`
              : `${from} was promoted at ${before}: the commits it inherited were acknowledged under the previous primary's quorum and may be on ${from} alone until a standby receives that far (the highest reachable quorum member has ${top})`,
      };
    }
    // A member whose PostgreSQL restarted reports no receive LSN until its receiver streams again:
    // its replay LSN is a lower bound of the WAL it flushed, which may hold commits past `top`.
    // Only such a member at the top can be shown to hold every commit, and only if it is the one.
    const boundOnly = seen.filter((n) => view.get(n.name)!.obs!.receiveLsn === null);
    const unknownEnd = boundOnly.find((n) => boundOnly.length > 1 || compareLsn(receivedLsn(view.get(n.name)!)!, top) < 0);
    if (unknownEnd !== undefined) {
      return {
        ok: false,
        reason: `${unknownEnd.name} reports no receive LSN (its PostgreSQL restarted and has not streamed since), only replay ${receivedLsn(view.get(unknownEnd.name)!)}: it may hold WAL past ${top}, so no member can be shown to hold every acknowledged commit until it streams again`,
      };
    }
    for (const n of standbys) {
      if (boundOnly.length === 1 && n.name !== boundOnly[0]!.name) refusals.set(n.name, refusals.get(n.name) ?? `${boundOnly[0]!.name} reports only its replay LSN ${top}, a lower bound: it may hold more`);
      if (!quorumMembers.includes(n)) refusals.set(n.name, refusals.get(n.name) ?? 'tagged nosync: never synchronous');
      else if (usable(n.name) && compareLsn(receivedLsn(view.get(n.name)!)!, top) < 0) refusals.set(n.name, `behind the quorum's highest LSN ${top}`);
    }
    const ranked = quorumMembers
      .filter((n) => usable(n.name))
      .map((n) => ({ name: n.name, priority: n.tags.priority, lsn: receivedLsn(view.get(n.name)!)! }));
    return pick(ranked, to, refusals, `synchronous quorum member holding the highest LSN ${top}`);
  }

  const limit = spec.replication.maximumLagOnFailover;
  const failed = view.get(from)?.obs ?? null;
  const last = failed?.lastKnownWalLsn ?? null;
  if (last === null) return { ok: false, reason: `the last LSN of ${from} is unknown, so no standby's lag can be checked against maximumLagOnFailover` };
  // The lag bound is only as good as the LSN it is measured from: one seen long before the
  // failure (a prober that restarted resumes from a stored observation up to a heartbeat old)
  // leaves every write after it unknown. An operator who names the candidate may go ahead.
  const stale = staleness(spec, failed!);
  if (stale !== null && to === null) {
    return { ok: false, reason: `the last LSN of ${from} (${last}) was ${stale}, so the writes after it are unknown and no standby's lag can be checked against maximumLagOnFailover; pgvigil failover --to <standby> accepts that loss` };
  }
  for (const n of standbys) {
    if (!usable(n.name)) continue;
    const lag = lsnDiff(last, receivedLsn(view.get(n.name)!)!);
    if (lag > limit) refusals.set(n.name, `lag ${lag} bytes exceeds maximumLagOnFailover ${limit}`);
  }
  const ranked = standbys.filter((n) => usable(n.name)).map((n) => ({ name: n.name, priority: n.tags.priority, lsn: receivedLsn(view.get(n.name)!)! }));
  const note = stale === null ? '' : ` (it was ${stale}: writes after it may be lost)`;
  return pick(ranked, to, refusals, `within maximumLagOnFailover ${limit} bytes of ${from}'s last LSN ${last}${note}`);
}

/**
 * Why a failed primary's last known LSN is not fresh evidence, or null when it is: it must have
 * been seen at the last probe that answered before the failure began (one interval, plus the
 * probe's own time, before the first failed probe).
 */
function staleness(spec: ClusterSpec, o: NodeObservation): string | null {
  if (o.lastKnownWalAt === null) return 'seen at an unknown time';
  const failedAt = o.reachable ? o.at : (o.failingSince ?? o.at);
  const before = failedAt - o.lastKnownWalAt;
  const allowed = 2 * spec.timing.probeIntervalMs + spec.timing.probeTimeoutMs;
  return before > allowed ? `seen ${before} ms before ${o.node} failed (more than ${allowed} ms: the prober restarted or missed rounds)` : null;
}

/** since 'syncNames': the point is a change of the primary's own setting, not its promotion. */
export type Inherited = { node: string; lsn: string | null; since?: 'syncNames' | undefined };

/**
 * The position up to which a failed primary may alone hold acknowledged commits it inherited
 * when it was promoted (the quorum that acknowledged them was its predecessor's, which may have
 * counted only it): undefined when it was not promoted by this log, null when unknown. An
 * unknown promotion point falls back on its last known LSN, which lies past it.
 */
function inheritedUpTo(view: Map<string, NodeView>, from: string, inherited: Inherited | null): string | null | undefined {
  if (inherited === null || inherited.node !== from) return undefined;
  return inherited.lsn ?? view.get(from)?.obs?.lastKnownWalLsn ?? null;
}

/**
 * A planned switchover: the primary is healthy and will stop cleanly, so any standby
 * streaming from it can reach its shutdown checkpoint and lose nothing.
 */
export function chooseSwitchoverCandidate(spec: ClusterSpec, view: Map<string, NodeView>, from: string, to: string | null): CandidateChoice {
  const streaming = new Set(standbysStreamingFrom(view, from));
  const refusals = new Map<string, string>();
  const ranked: Ranked[] = [];
  for (const n of spec.nodes) {
    if (n.name === from) {
      refusals.set(n.name, `${n.name} is already the primary`);
      continue;
    }
    const lsn = view.get(n.name) ? receivedLsn(view.get(n.name)!) : null;
    if (n.tags.nofailover) refusals.set(n.name, `${n.name} is tagged nofailover`);
    else if (!streaming.has(n.name) || lsn === null) refusals.set(n.name, `${n.name} is not streaming from ${from}`);
    else ranked.push({ name: n.name, priority: n.tags.priority, lsn });
  }
  return pick(ranked, to, refusals, `streaming from ${from}; it will replay ${from}'s shutdown checkpoint before promotion`);
}
