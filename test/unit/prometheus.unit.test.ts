import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { actionOutcome, agentMetrics } from '../../lib/agent/agentMetrics.ts';
import type { AgentConfig } from '../../lib/agent/agentConfig.ts';
import type { FenceMarker } from '../../lib/agent/fenceMarker.ts';
import type { TermStore } from '../../lib/agent/termStore.ts';
import { promControlMetrics } from '../../lib/control/promControlMetrics.ts';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import type { PgServer } from '../../lib/postgres/pgServer.ts';
import { makeSpec, obs, T0 } from './domain/kit.ts';
import { observation } from '../support/observation.ts';

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  assert.ok(found.length <= 1, `more than one ${name} sample matches ${JSON.stringify(labels)}:\n${found.join('\n')}`);
  return found[0] === undefined ? undefined : Number(found[0].slice(found[0].lastIndexOf(' ') + 1));
}

/** A PostgreSQL that answers the agent's state query (and the lag queries) with fixed rows. */
function fakePg(state: Record<string, unknown>, extra: Record<string, unknown>[]): PgServer {
  const pg = {
    postmasterPid: async () => 4242,
    sql: async (text: string) => ({ ok: true, rows: text.includes('pg_is_in_recovery() AS recovery') ? [state] : extra }),
  };
  return pg as unknown as PgServer;
}

function agentCtx(pg: PgServer, opts: { term: number; fenced: boolean }) {
  const config = { cluster: 'orders', node: 'pg2', store: { table: 'pgvigil', region: 'us-east-1' } } as unknown as AgentConfig;
  const terms = { current: opts.term } as unknown as TermStore;
  const fence = { get: async () => (opts.fenced ? { term: 3, why: 'test' } : null) } as unknown as FenceMarker;
  return { config, pg, terms, fence };
}

const standbyRow = { recovery: true, version: 150010, wal_lsn: null, wal_tli: null, receive_lsn: '0/3000200', replay_lsn: '0/3000100', checkpoint_tli: 2, min_recovery_tli: 2, status: 'streaming', received_tli: 2, sender_host: '127.0.0.1', sender_port: 5432, primary_conninfo: 'host=127.0.0.1', primary_slot_name: '' };
const primaryRow = { ...standbyRow, recovery: false, wal_lsn: '1/00000010', wal_tli: 3, receive_lsn: null, replay_lsn: null, status: null, received_tli: null, sender_host: null, sender_port: null };

describe('Prometheus metrics (prom-client text)', () => {
  test("an agent's standby: role, term, timeline, WAL positions in bytes and replay lag, every series labelled with cluster and node", async () => {
    const m = agentMetrics(agentCtx(fakePg(standbyRow, [{ seconds: 0.25 }]), { term: 4, fenced: false }));
    const text = await m.render();
    const me = { cluster: 'orders', node: 'pg2' };
    assert.equal(sample(text, 'pgvigil_node_role', { ...me, role: 'standby' }), 1);
    assert.equal(sample(text, 'pgvigil_node_role', { ...me, role: 'primary' }), 0);
    assert.equal(sample(text, 'pgvigil_node_fenced', me), 0);
    assert.equal(sample(text, 'pgvigil_node_term', me), 4);
    assert.equal(sample(text, 'pgvigil_node_timeline', me), 2);
    assert.equal(sample(text, 'pgvigil_node_wal_position_bytes', { ...me, position: 'receive' }), 0x3000200);
    assert.equal(sample(text, 'pgvigil_node_wal_position_bytes', { ...me, position: 'replay' }), 0x3000100);
    assert.equal(sample(text, 'pgvigil_node_wal_position_bytes', { position: 'write' }), undefined);
    assert.equal(sample(text, 'pgvigil_node_replay_lag_bytes', me), 0x100);
    assert.equal(sample(text, 'pgvigil_node_replay_lag_seconds', me), 0.25);
    assert.match(text, /# TYPE pgvigil_agent_actions_total counter/);
    assert.match(text, /# TYPE pgvigil_agent_action_duration_seconds histogram/);
  });

  test("an agent's primary: write position, each standby's replication lag; a fence shows", async () => {
    const m = agentMetrics(agentCtx(fakePg(primaryRow, [{ name: 'pg1', bytes: 4096, seconds: 0.5 }, { name: 'pg3', bytes: 0, seconds: 0 }]), { term: 5, fenced: true }));
    const text = await m.render();
    assert.equal(sample(text, 'pgvigil_node_role', { role: 'primary' }), 1);
    assert.equal(sample(text, 'pgvigil_node_fenced'), 1);
    assert.equal(sample(text, 'pgvigil_node_timeline'), 3);
    assert.equal(sample(text, 'pgvigil_node_wal_position_bytes', { position: 'write' }), 2 ** 32 + 16);
    assert.equal(sample(text, 'pgvigil_replication_lag_bytes', { standby: 'pg1' }), 4096);
    assert.equal(sample(text, 'pgvigil_replication_lag_seconds', { standby: 'pg1' }), 0.5);
    assert.equal(sample(text, 'pgvigil_replication_lag_bytes', { standby: 'pg3' }), 0);
    // A series without labels is always shown: on a primary, a standby's own replay lag reads 0.
    assert.equal(sample(text, 'pgvigil_node_replay_lag_bytes'), 0);
  });

  test('lease renewals by outcome, retries, lease age, and actions counted and timed by action and outcome', async () => {
    const m = agentMetrics(agentCtx(fakePg(standbyRow, []), { term: 1, fenced: false }));
    m.lease.renewed(performance.now());
    m.lease.renewed(performance.now());
    m.lease.failed();
    m.lease.retried();
    m.lease.conflict();
    m.answered('promote', actionOutcome(200, true), 0.3);
    m.answered('promote', actionOutcome(409, false), 0.001);
    m.answered('fence', actionOutcome(200, false), 2);
    const text = await m.render();
    assert.equal(sample(text, 'pgvigil_lease_renewals_total', { outcome: 'renewed' }), 2);
    assert.equal(sample(text, 'pgvigil_lease_renewals_total', { outcome: 'failed' }), 1);
    assert.equal(sample(text, 'pgvigil_lease_renewals_total', { outcome: 'conflict' }), 1);
    assert.equal(sample(text, 'pgvigil_lease_renewal_retries_total'), 1);
    const age = sample(text, 'pgvigil_lease_age_seconds');
    assert.ok(age !== undefined && age >= 0 && age < 5, `lease age ${age}`);
    assert.equal(sample(text, 'pgvigil_agent_actions_total', { action: 'promote', outcome: 'ok' }), 1);
    assert.equal(sample(text, 'pgvigil_agent_actions_total', { action: 'promote', outcome: 'stale_term' }), 1);
    assert.equal(sample(text, 'pgvigil_agent_actions_total', { action: 'fence', outcome: 'failed' }), 1);
    assert.equal(sample(text, 'pgvigil_agent_action_duration_seconds_bucket', { action: 'promote', outcome: 'ok', le: '0.5' }), 1);
    assert.equal(sample(text, 'pgvigil_agent_action_duration_seconds_count', { action: 'fence', outcome: 'failed' }), 1);
    // Registries are per agent: a second agent in the same process starts from nothing.
    const other = await agentMetrics(agentCtx(fakePg(standbyRow, []), { term: 1, fenced: false })).render();
    assert.equal(sample(other, 'pgvigil_agent_actions_total', { action: 'promote', outcome: 'ok' }), undefined);
    assert.equal(sample(other, 'pgvigil_lease_renewal_retries_total'), 0);
  });

  test('the control plane: probe rounds and failures by kind, per-node reachability and lag, decide runs, failovers by kind and outcome, blind', async () => {
    const spec = makeSpec();
    const m = promControlMetrics();
    const down = observation('pg1', T0, { reachable: false, error: { kind: 'refused', message: 'ECONNREFUSED' }, consecutiveFailures: 1 });
    m.probeRound!(spec, { seconds: 0.012, observations: [down, obs.standby('pg2', T0, 'pg1', { lagBytes: 2048, lagSeconds: 0.1 }), obs.standby('pg3', T0, 'pg1')], storeError: false });
    const at = { v: 1, at: T0, term: 2, reason: 'test' } as const;
    const started: DecisionEvent = { ...at, type: 'FailoverStarted', kind: 'failover', from: 'pg1', to: 'pg2', evidence: [] };
    const completed: DecisionEvent = { ...at, at: T0 + 1_700, type: 'FailoverCompleted', kind: 'failover', from: 'pg1', to: 'pg2', startedAt: T0 };
    m.decideRun!('main', { command: 'probeRound', outcome: 'appended', events: [started], term: 2 });
    m.decideRun!('main', { command: 'probeRound', outcome: 'appended', events: [completed], term: 2 });
    m.decideRun!('main', { command: 'tick', outcome: 'unchanged', events: [], term: 2 });
    m.decideRun!('main', { command: 'switchover', outcome: 'refused', events: [], term: null });
    let text = await m.registry.metrics();
    const c = { cluster: 'main' };
    assert.equal(sample(text, 'pgvigil_probe_round_duration_seconds_count', c), 1);
    assert.equal(sample(text, 'pgvigil_probe_failures_total', { ...c, node: 'pg1', kind: 'refused' }), 1);
    assert.equal(sample(text, 'pgvigil_probe_node_reachable', { ...c, node: 'pg1' }), 0);
    assert.equal(sample(text, 'pgvigil_probe_node_reachable', { ...c, node: 'pg2' }), 1);
    assert.equal(sample(text, 'pgvigil_probe_node_lag_bytes', { ...c, node: 'pg2' }), 2048);
    assert.equal(sample(text, 'pgvigil_read_lag_limit_bytes', c), 16 * 1024 * 1024);
    assert.equal(sample(text, 'pgvigil_decide_runs_total', { ...c, command: 'probeRound', outcome: 'appended' }), 2);
    assert.equal(sample(text, 'pgvigil_decide_runs_total', { ...c, command: 'switchover', outcome: 'refused' }), 1);
    assert.equal(sample(text, 'pgvigil_failovers_total', { ...c, kind: 'failover', outcome: 'started' }), 1);
    assert.equal(sample(text, 'pgvigil_failovers_total', { ...c, kind: 'failover', outcome: 'completed' }), 1);
    // 1.7 s from FailoverStarted to FailoverCompleted, in the 2 s bucket and not the 1 s one.
    assert.equal(sample(text, 'pgvigil_failover_duration_seconds_count', { ...c, kind: 'failover' }), 1);
    assert.equal(sample(text, 'pgvigil_failover_duration_seconds_sum', { ...c, kind: 'failover' }), 1.7);
    assert.equal(sample(text, 'pgvigil_failover_duration_seconds_bucket', { ...c, kind: 'failover', le: '2' }), 1);
    assert.equal(sample(text, 'pgvigil_failover_duration_seconds_bucket', { ...c, kind: 'failover', le: '1' }), 0);
    assert.equal(sample(text, 'pgvigil_failovers_total', { ...c, kind: 'switchover', outcome: 'started' }), 0, 'counters an alert reads start at 0');
    assert.equal(sample(text, 'pgvigil_probe_failures_total', { ...c, node: 'pg3', kind: 'timeout' }), 0);
    assert.equal(sample(text, 'pgvigil_cluster_term', c), 2);
    assert.equal(sample(text, 'pgvigil_control_plane_blind', c), 0);

    // A round that reaches nobody, then the store failing and coming back.
    m.probeRound!(spec, { seconds: 0.4, observations: spec.nodes.map((n) => observation(n.name, T0, { reachable: false, error: { kind: 'timeout', message: 'timeout' } })), storeError: false });
    text = await m.registry.metrics();
    assert.equal(sample(text, 'pgvigil_control_plane_blind', c), 1);
    assert.equal(sample(text, 'pgvigil_probe_blind_rounds_total', c), 1);
    assert.equal(sample(text, 'pgvigil_probe_node_lag_bytes', { ...c, node: 'pg2' }), undefined);
    m.probeRound!(spec, { seconds: 0.01, observations: [obs.standby('pg2', T0, 'pg1')], storeError: false });
    m.storeTrouble!('main', true);
    text = await m.registry.metrics();
    assert.equal(sample(text, 'pgvigil_control_plane_blind', c), 1);
    assert.equal(sample(text, 'pgvigil_probe_node_reachable', { ...c, node: 'pg3' }), undefined, 'a node no longer probed leaves no series');
    m.storeTrouble!('main', false);
    assert.equal(sample(await m.registry.metrics(), 'pgvigil_control_plane_blind', c), 0);
  });
});
