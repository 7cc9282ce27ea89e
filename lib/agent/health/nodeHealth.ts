import { LSN_PATTERN, lsnToBigInt } from '../../domain/lsn.ts';
import type { Fenced } from '../fenceMarker.ts';
import type { ServerState } from '../serverState.ts';

/**
 * The health checks of Patroni's REST API, judged from one snapshot of this node: pure, so a
 * given snapshot always gives the same status code. Same paths, status codes (200 / 503) and
 * JSON field names as Patroni where the concept exists, so HAProxy configs written for Patroni
 * (`option httpchk OPTIONS /primary`, `http-check expect status 200`) work unchanged.
 */

/** What a health answer knows besides ServerState: the Patroni-only fields (healthState.ts reads them). */
export interface HealthExtras {
  postmasterStartTime: string | null;
  replayPaused: boolean | null;
  replayedTimestamp: string | null;
  /**
   * pg_stat_wal_receiver.latest_end_lsn: the end of WAL the primary's sender last reported to
   * this standby (every WAL message and keepalive carries it). The primary's position as this
   * standby knows it, as Patroni also reads it.
   */
  latestEndLsn: string | null;
  /** This node's synchronous_standby_names (pgvigil keeps it the same on every node). */
  synchronousStandbyNames: string;
  systemIdentifier: string | null;
  /** pg_stat_replication as this node (a primary, or a cascading standby) reports it. */
  replication: ReplicationRow[];
}

export interface ReplicationRow {
  usename: string | null;
  application_name: string;
  client_addr: string | null;
  state: string | null;
  sync_state: string | null;
  sync_priority: number | null;
}

export interface HealthSnapshot {
  cluster: string;
  node: string;
  server: ServerState;
  /** Null when PostgreSQL did not answer the second query. */
  extras: HealthExtras | null;
  /** The agent's fence marker, read for every answer (never cached). */
  fenced: Fenced | null;
  /** The highest term this agent has admitted. */
  term: number;
  /** Actions queued or running on this agent (its action lock). */
  pendingActions: number;
}

export interface HealthVerdict {
  status: 200 | 503;
  reason: string;
}

/** Patroni's `state`: running, starting, stopping, stopped, or unknown (up but not answering for another reason). */
export function pgState(s: ServerState): 'running' | 'starting' | 'stopping' | 'stopped' | 'unknown' {
  if (!s.running) return 'stopped';
  if (s.answering) return 'running';
  if (s.why && /starting up|not yet accepting/i.test(s.why)) return 'starting';
  if (s.why && /shutting down/i.test(s.why)) return 'stopping';
  return 'unknown';
}

/** Patroni's `role`: from pg_is_in_recovery(); `unknown` when PostgreSQL does not answer. */
export function pgRole(s: ServerState): 'primary' | 'replica' | 'unknown' {
  if (!s.answering || s.inRecovery === null) return 'unknown';
  return s.inRecovery ? 'replica' : 'primary';
}

/**
 * The primary of this agent's term, not fenced. The agent learns that it is deposed only from
 * the control plane's actions of a newer term, and each of them acts on the fence marker first
 * or turns the node into a standby: fence sets the marker before it stops PostgreSQL, demote
 * stops it (new connections are refused from the first moment of the shutdown) and then sets
 * the marker, the lease loop sets it before it stops a primary whose lease lapsed, and follow
 * and rewind leave a standby. So "not in recovery, answering, no marker" is "primary of the
 * current term", and the marker is read on every answer: a fenced primary answers 503 at once,
 * even while PostgreSQL is still shutting down, before any probe sees it.
 */
function primaryVerdict(snap: HealthSnapshot): HealthVerdict {
  if (snap.fenced) return down(`fenced at term ${snap.fenced.term}: ${snap.fenced.why}`);
  const role = pgRole(snap.server);
  if (role === 'primary') return up(`primary of term ${snap.term}`);
  return down(role === 'replica' ? 'a standby, not the primary' : `PostgreSQL is ${pgState(snap.server)}${snap.server.why ? ` (${snap.server.why})` : ''}`);
}

/**
 * A streaming standby within the lag asked for. Lag here is the bytes this standby has still to
 * replay (or, with mode=write in /readiness, to receive) up to the primary's end of WAL as the
 * primary last told it: max(latest_end_lsn, received) − replayed. It is measured against what
 * the standby heard, so a standby cut off from its primary is not "not lagging": it is not
 * streaming, and answers 503 whatever the lag asked for.
 */
function replicaVerdict(snap: HealthSnapshot, query: URLSearchParams, mode: 'apply' | 'write' = 'apply'): HealthVerdict {
  if (snap.fenced) return down(`fenced at term ${snap.fenced.term}: ${snap.fenced.why}`);
  const role = pgRole(snap.server);
  if (role !== 'replica') return down(role === 'primary' ? 'the primary, not a standby' : `PostgreSQL is ${pgState(snap.server)}${snap.server.why ? ` (${snap.server.why})` : ''}`);
  const receiver = snap.server.receiver?.status ?? null;
  if (receiver !== 'streaming') return down(`not streaming (WAL receiver ${receiver ?? 'not running'})`);
  const wanted = query.get('replication_state');
  if (wanted !== null && wanted !== 'streaming') return down(`replication state is streaming, not ${wanted}`);
  const lagParam = query.get('lag');
  if (lagParam !== null) {
    const max = parseLag(lagParam);
    if (max === null) return down(`lag=${lagParam} is not a size: give bytes or a number with kB, MB, GB or TB (e.g. 1MB)`);
    const lag = standbyLagBytes(snap, mode);
    if (lag === null) return down('lag unknown: no received or replayed position yet');
    if (lag > max) return down(`${lag} bytes behind the primary's last reported end of WAL, over lag=${lagParam}`);
  }
  return up(`streaming standby${lagParam !== null ? ` within lag=${lagParam}` : ''}`);
}

/** Bytes from this standby's replayed (apply) or received (write) position to the primary's end of WAL as it last heard it. */
export function standbyLagBytes(snap: HealthSnapshot, mode: 'apply' | 'write' = 'apply'): number | null {
  const { receiveLsn, replayLsn } = snap.server;
  const from = mode === 'write' ? receiveLsn : replayLsn;
  if (from === null) return null;
  const ends = [receiveLsn, replayLsn, snap.extras?.latestEndLsn ?? null].filter((l): l is string => l !== null && LSN_PATTERN.test(l));
  const primaryEnd = ends.reduce((a, b) => (lsnToBigInt(b) > a ? lsnToBigInt(b) : a), 0n);
  const d = primaryEnd - lsnToBigInt(from);
  return d > 0n ? Number(d) : 0;
}

const UNITS: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** `1048576`, `1024kB`, `10MB`, `1GB` (PostgreSQL's units, 1024-based, as Patroni reads them); null if not a size. */
export function parseLag(text: string): number | null {
  const m = /^\s*(\d+)\s*(B|kB|MB|GB|TB)?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * UNITS[m[2] ?? 'B']!;
}

/**
 * How PostgreSQL would list this node in pg_stat_replication.sync_state, judged from the
 * standby's own synchronous_standby_names (the same on every pgvigil node): `quorum` when
 * listed under ANY k, `sync` when among the first k of a FIRST k (or plain) list, `potential`
 * when listed after them, else `async`. A standby cannot see the primary's pg_stat_replication;
 * under FIRST k the primary picks the first k *connected* names, so a standby listed k-th may be
 * sync there while an earlier one is down: its /sync answer waits for that name to come back.
 */
export function syncStateOf(synchronousStandbyNames: string, node: string): 'sync' | 'quorum' | 'potential' | 'async' {
  const text = synchronousStandbyNames.trim();
  if (text === '') return 'async';
  const method = /^(ANY|FIRST)\s+(\d+)\s*\((.*)\)$/is.exec(text) ?? /^()(\d+)\s*\((.*)\)$/s.exec(text);
  const quorum = method?.[1]?.toUpperCase() === 'ANY';
  const k = method ? Number(method[2]) : 1;
  const names = (method ? method[3]! : text).split(',').map(standbyName);
  const at = names.findIndex((n) => n === '*' || n === node.toLowerCase());
  if (at < 0) return 'async';
  if (quorum) return 'quorum';
  return at < k ? 'sync' : 'potential';
}

/** A standby name as synchronous_standby_names compares it: unquoted names case-insensitively. */
function standbyName(raw: string): string {
  const t = raw.trim();
  return t.startsWith('"') && t.endsWith('"') && t.length >= 2 ? t.slice(1, -1).replaceAll('""', '"') : t.toLowerCase();
}

/** Patroni's tag match: the agent holds no node tags, so any `tag_key=value` asked for is not defined here: 503. */
function tagVerdict(query: URLSearchParams): HealthVerdict | null {
  for (const key of query.keys()) {
    if (key.startsWith('tag_')) return down(`tag ${key.slice(4)} is not defined on this node (pgvigil agents hold no node tags)`);
  }
  return null;
}

type Check = (snap: HealthSnapshot, query: URLSearchParams) => HealthVerdict;

const withTags =
  (check: Check): Check =>
  (snap, query) => {
    const v = check(snap, query);
    return v.status === 200 ? (tagVerdict(query) ?? v) : v;
  };

const replicaWhere =
  (want: (state: ReturnType<typeof syncStateOf>) => boolean, what: string): Check =>
  (snap, query) => {
    const v = replicaVerdict(snap, query);
    if (v.status !== 200) return v;
    const state = syncStateOf(snap.extras?.synchronousStandbyNames ?? '', snap.node);
    return want(state) ? up(`${v.reason}, ${state}`) : down(`a ${state} standby, not ${what}`);
  };

const primaryOr =
  (other: Check): Check =>
  (snap, query) => {
    const p = primaryVerdict(snap);
    return p.status === 200 ? p : other(snap, query);
  };

const healthVerdict: Check = (snap) => (pgState(snap.server) === 'running' ? up('PostgreSQL is up') : down(`PostgreSQL is ${pgState(snap.server)}${snap.server.why ? ` (${snap.server.why})` : ''}`));

const readiness: Check = (snap, query) => {
  const p = primaryVerdict(snap);
  if (p.status === 200) return p;
  return replicaVerdict(snap, query, query.get('mode') === 'write' ? 'write' : 'apply');
};

const isSync = (s: string) => s === 'sync';
const isQuorum = (s: string) => s === 'quorum';
const isAsync = (s: string) => s === 'async' || s === 'potential';

/**
 * Every path answered, and its check. Primary paths ignore `tag_*` (as Patroni does); the
 * others answer 503 to any tag. Paths of Patroni not here are not answered (see the README).
 */
const CHECKS: Record<string, Check> = {
  '/': primaryVerdict,
  '/primary': primaryVerdict,
  '/master': primaryVerdict,
  '/leader': primaryVerdict,
  '/read-write': primaryVerdict,
  '/replica': withTags(replicaVerdict),
  '/read-only': withTags(primaryOr(replicaVerdict)),
  '/synchronous': withTags(replicaWhere(isSync, 'a synchronous standby')),
  '/sync': withTags(replicaWhere(isSync, 'a synchronous standby')),
  '/read-only-sync': withTags(primaryOr(replicaWhere(isSync, 'a synchronous standby'))),
  '/quorum': withTags(replicaWhere(isQuorum, 'a quorum standby')),
  '/read-only-quorum': withTags(primaryOr(replicaWhere(isQuorum, 'a quorum standby'))),
  '/asynchronous': withTags(replicaWhere(isAsync, 'an asynchronous standby')),
  '/async': withTags(replicaWhere(isAsync, 'an asynchronous standby')),
  '/health': healthVerdict,
  '/readiness': readiness,
  // Monitoring: always 200 while the agent answers.
  '/patroni': () => up('status'),
};

/** Paths answered without reading PostgreSQL: the agent answering is the whole check. */
export const LIVENESS_PATH = '/liveness';

export function isHealthPath(path: string): boolean {
  return path === LIVENESS_PATH || Object.hasOwn(CHECKS, path);
}

/** The verdict for a path and its query, or null for a path that is not a health check. */
export function judge(path: string, query: URLSearchParams, snap: HealthSnapshot): HealthVerdict | null {
  if (path === LIVENESS_PATH) return up('agent alive');
  const check = Object.hasOwn(CHECKS, path) ? CHECKS[path] : undefined;
  return check ? check(snap, query) : null;
}

const lsnBytes = (lsn: string | null): number | null => (lsn !== null && LSN_PATTERN.test(lsn) ? Number(lsnToBigInt(lsn)) : null);

/**
 * The JSON document of GET answers: Patroni's fields where the concept exists (`state`, `role`,
 * `server_version`, `xlog`, `timeline`, `replication`, `replication_state`, `sync_standby` /
 * `quorum_standby`, `database_system_identifier`, `patroni.scope` / `name`), and pgvigil's own
 * under `pgvigil` (term, fence marker, pending actions, the verdict's reason). LSNs are byte
 * positions, as in Patroni. Nothing secret: no conninfo, no key, no config.
 */
export function statusDocument(snap: HealthSnapshot, verdict: HealthVerdict | null): Record<string, unknown> {
  const s = snap.server;
  const role = pgRole(s);
  const x = snap.extras;
  const doc: Record<string, unknown> = { state: pgState(s), role };
  if (x?.postmasterStartTime) doc['postmaster_start_time'] = x.postmasterStartTime;
  if (s.versionNum !== null) doc['server_version'] = s.versionNum;
  if (role === 'primary') doc['xlog'] = { location: lsnBytes(s.walLsn) };
  if (role === 'replica') {
    doc['xlog'] = { received_location: lsnBytes(s.receiveLsn) ?? lsnBytes(s.replayLsn), replayed_location: lsnBytes(s.replayLsn), replayed_timestamp: x?.replayedTimestamp ?? null, paused: x?.replayPaused ?? false };
    if (s.receiver) doc['replication_state'] = s.receiver.status;
    const sync = syncStateOf(x?.synchronousStandbyNames ?? '', snap.node);
    if (sync === 'sync') doc['sync_standby'] = true;
    if (sync === 'quorum') doc['quorum_standby'] = true;
  }
  if (s.timeline !== null) doc['timeline'] = s.timeline;
  if (x && x.replication.length > 0) doc['replication'] = x.replication;
  if (x?.systemIdentifier) doc['database_system_identifier'] = x.systemIdentifier;
  doc['patroni'] = { scope: snap.cluster, name: snap.node };
  doc['pgvigil'] = {
    term: snap.term,
    fenced: snap.fenced ? { term: snap.fenced.term, why: snap.fenced.why, at: snap.fenced.at } : null,
    pending_actions: snap.pendingActions,
    ...(role === 'replica' ? { lag_bytes: standbyLagBytes(snap) } : {}),
    ...(s.why ? { why: s.why } : {}),
    ...(verdict ? { reason: verdict.reason } : {}),
  };
  return doc;
}

function up(reason: string): HealthVerdict {
  return { status: 200, reason };
}

function down(reason: string): HealthVerdict {
  return { status: 503, reason };
}
