import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ScheduledBackup } from '../../lib/control/lambdaEvents.ts';
import { chooseBackupStandby } from '../../lib/domain/backupSource.ts';
import { parseWith } from '../../lib/domain/parse.ts';
import { initialState, type ClusterState } from '../../lib/domain/state.ts';
import { viewNodes } from '../../lib/domain/view.ts';
import type { NodeObservation } from '../../lib/domain/observation.ts';
import { T0, lsn, makeSpec, obs } from './domain/kit.ts';

const spec = makeSpec();
const state = (over: Partial<ClusterState> = {}): ClusterState => ({ ...initialState('main'), spec, term: 1, primary: 'pg1', writer: 'pg1', ...over });
const healthy = (): NodeObservation[] => [obs.primary('pg1', T0, ['pg2', 'pg3']), obs.standby('pg2', T0, 'pg1', { lagBytes: 4096 }), obs.standby('pg3', T0, 'pg1', { lagBytes: 512 })];
const choose = (s: ClusterState, o: NodeObservation[], now = T0 + 1_000) => chooseBackupStandby(s, viewNodes(spec, o, now));
const chosen = (r: ReturnType<typeof chooseBackupStandby>) => (r.ok ? r.node.name : `none: ${r.reason}`);

describe('ScheduledBackup event (the schedule rule\'s constant input)', () => {
  test('the input the CDK rule sends parses', () => {
    assert.deepEqual(ScheduledBackup.parse({ source: 'pgvigil.schedule', action: 'backup', cluster: 'main' }), { source: 'pgvigil.schedule', action: 'backup', cluster: 'main' });
  });

  test('a missing cluster, another action or an extra field is refused, naming the field', () => {
    assert.deepEqual(parseWith(ScheduledBackup, { source: 'pgvigil.schedule', action: 'backup' }, 'scheduled backup'), { ok: false, reason: 'scheduled backup: cluster: give the cluster name' });
    const other = parseWith(ScheduledBackup, { source: 'pgvigil.schedule', action: 'vacuum', cluster: 'main' }, 'scheduled backup');
    assert.equal(other.ok, false);
    assert.match(!other.ok ? other.reason : '', /^scheduled backup: action: /);
    const extra = parseWith(ScheduledBackup, { source: 'pgvigil.schedule', action: 'backup', cluster: 'main', node: 'pg1' }, 'scheduled backup');
    assert.equal(extra.ok, false);
    assert.match(!extra.ok ? extra.reason : '', /node/);
  });
});

describe('chooseBackupStandby: which standby a scheduled backup is taken from', () => {
  test('the streaming standby with the least lag, never the primary', () => {
    const r = choose(state(), healthy());
    assert.equal(chosen(r), 'pg3');
    assert.match(r.ok ? r.why : '', /pg3 streams from pg1, 512 bytes behind \(least lag of 2 streaming standbys\)/);
  });

  test('without a lag figure, the lag is the primary\'s WAL position less the replay position', () => {
    const o = [obs.primary('pg1', T0, ['pg2', 'pg3']), obs.standby('pg2', T0, 'pg1', { lagBytes: null, replayLsn: lsn(990) }), obs.standby('pg3', T0, 'pg1', { lagBytes: null, replayLsn: lsn(900) })];
    const r = choose(state(), o);
    assert.equal(chosen(r), 'pg2');
    assert.match(r.ok ? r.why : '', /10 bytes behind/);
  });

  test('equal lag: spec order decides', () => {
    const o = [obs.primary('pg1', T0, ['pg2', 'pg3']), obs.standby('pg2', T0, 'pg1'), obs.standby('pg3', T0, 'pg1')];
    assert.equal(chosen(choose(state(), o)), 'pg2');
  });

  test('a standby beyond the read lag limit only when no other streams', () => {
    assert.equal(chosen(choose(state({ lagging: ['pg3'] }), healthy())), 'pg2');
    const o = healthy().map((x) => (x.node === 'pg2' ? { ...x, walReceiver: { ...x.walReceiver!, status: 'stopping' } } : x));
    const r = choose(state({ lagging: ['pg3'] }), o);
    assert.equal(chosen(r), 'pg3');
    assert.match(r.ok ? r.why : '', /beyond the read lag limit/);
  });

  test('standbys that are down, deposed, stale, unreachable or not streaming are passed over', () => {
    assert.equal(chosen(choose(state({ down: ['pg3'] }), healthy())), 'pg2');
    assert.equal(chosen(choose(state({ deposed: { pg3: T0 } }), healthy())), 'pg2');
    const stale = healthy().map((x) => (x.node === 'pg3' ? { ...x, at: T0 - 600_000 } : x));
    assert.equal(chosen(choose(state(), stale)), 'pg2');
    const unreachable = healthy().map((x) => (x.node === 'pg3' ? { ...x, reachable: false, consecutiveFailures: 1 } : x));
    assert.equal(chosen(choose(state(), unreachable)), 'pg2');
  });

  test('none qualifies: the reason names every node and why', () => {
    const o = [
      obs.primary('pg1', T0, []),
      obs.standby('pg2', T0, null, { walReceiver: { status: 'waiting', upstream: null, senderHost: null, senderPort: null, lastMsgReceiptAt: null } }),
      { ...obs.standby('pg3', T0, 'pg1'), reachable: false, consecutiveFailures: 3 },
    ];
    const r = choose(state(), o);
    assert.equal(r.ok, false);
    assert.equal(
      r.ok ? '' : r.reason,
      'no healthy streaming standby to back up (pg1: the primary (backups come from a standby, so the primary serves no base backup); pg2: its WAL receiver is waiting; pg3: unreachable)',
    );
  });

  test('a standby whose receiver stopped after a promotion elsewhere is seen as what it is now', () => {
    // pg2 was promoted outside pgvigil: the probe sees a primary, the log still says pg1.
    const o = healthy().map((x) => (x.node === 'pg2' ? obs.primary('pg2', T0, []) : x));
    assert.equal(chosen(choose(state(), o)), 'pg3');
    const both = o.map((x) => (x.node === 'pg3' ? { ...x, walReceiver: null } : x));
    const r = choose(state(), both);
    assert.match(r.ok ? '' : r.reason, /pg2: seen as primary; pg3: its WAL receiver is not running/);
  });

  test('no backup during a failover, before initialization, or without a primary', () => {
    const failover = { kind: 'failover' as const, term: 2, from: 'pg1', to: 'pg2', startedAt: T0, step: 'promoting' as const, fencedBy: null, minLsn: null, detached: [], promoteRequested: true, fencedAt: null, finalLsn: null, stepAt: null };
    assert.equal(chosen(choose(state({ failover }), healthy())), 'none: a failover pg1 → pg2 is in progress: no backup now, the next scheduled one will run');
    assert.equal(chosen(choose(initialState('main'), healthy())), 'none: cluster main is not initialized yet: no backup until its first decide run');
    assert.match(chosen(choose(state({ primary: null }), healthy())), /^none: cluster main has no primary/);
  });
});
