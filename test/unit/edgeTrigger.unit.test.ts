import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeObservation } from '../../lib/domain/observation.ts';
import { failureDeadlines, shouldWrite } from '../../lib/probe/edgeTrigger.ts';
import { TimingSpec } from '../../lib/domain/spec.ts';
import { observation } from '../support/observation.ts';

const opts = { heartbeatMs: 10_000, readLagLimit: 1_000_000 };

const standby = observation('pg2', 1_000_000, {
  cluster: 'c1',
  role: 'standby',
  timeline: 1,
  receiveLsn: '0/3000100',
  replayLsn: '0/3000100',
  lagBytes: 0,
  lagSeconds: 0,
  walReceiver: { status: 'streaming', upstream: 'pg1', senderHost: '127.0.0.1', senderPort: 5432, lastMsgReceiptAt: 999_900 },
  receiverSince: 999_000,
  synchronousStandbyNames: 'ANY 1 (pg2, pg3)',
  lease: { version: 7, changedSeenAt: 999_000, term: 1 },
});
const primary: NodeObservation = {
  ...standby,
  node: 'pg1',
  role: 'primary',
  walLsn: '0/3000100',
  receiveLsn: null,
  replayLsn: null,
  lagBytes: null,
  lagSeconds: null,
  lastKnownWalLsn: '0/3000100',
  walReceiver: null,
  replication: [
    { name: 'pg2', state: 'streaming', syncState: 'quorum', sentLsn: '0/3000100', flushLsn: '0/3000100', replayLsn: '0/3000100' },
    { name: 'pg3', state: 'streaming', syncState: 'quorum', sentLsn: '0/3000100', flushLsn: '0/3000100', replayLsn: '0/3000100' },
  ],
};
const later = (o: NodeObservation, patch: Partial<NodeObservation>): NodeObservation => ({ ...o, at: o.at + 250, ...patch });

describe('shouldWrite', () => {
  test('the first observation of a node is written', () => {
    assert.equal(shouldWrite(null, standby, opts), true);
  });

  test('LSN movement and a lease renewal alone are not written', () => {
    const moved = later(primary, {
      walLsn: '0/3000200',
      lastKnownWalLsn: '0/3000200',
      replication: primary.replication.map((r) => ({ ...r, sentLsn: '0/3000200', replayLsn: '0/3000180' })),
      lease: { version: 8, changedSeenAt: primary.at + 250, term: 1 },
    });
    assert.equal(shouldWrite(primary, moved, opts), false);
    assert.equal(shouldWrite(standby, later(standby, { replayLsn: '0/3000200', lagBytes: 300, lagSeconds: 0.1 }), opts), false);
  });

  test('the heartbeat forces a write when nothing changed', () => {
    assert.equal(shouldWrite(standby, { ...standby, at: standby.at + 9_999 }, opts), false);
    assert.equal(shouldWrite(standby, { ...standby, at: standby.at + 10_000 }, opts), true);
  });

  test('each significant change is written', () => {
    const failed = later(standby, { reachable: false, error: { kind: 'refused', message: 'x' }, consecutiveFailures: 1, role: 'unknown', walReceiver: null });
    const changes: Array<[string, NodeObservation, NodeObservation]> = [
      ['unreachable', standby, failed],
      ['another failure', failed, later(failed, { consecutiveFailures: 2 })],
      ['error kind', failed, later(failed, { error: { kind: 'timeout', message: 'x' } })],
      ['promoted', standby, later(standby, { role: 'primary', walReceiver: null })],
      ['timeline', standby, later(standby, { timeline: 2 })],
      ['foreign', standby, later(standby, { foreign: true })],
      ['receiver status', standby, later(standby, { walReceiver: { ...standby.walReceiver!, status: 'waiting' } })],
      ['upstream', standby, later(standby, { walReceiver: { ...standby.walReceiver!, upstream: 'pg3' } })],
      ['sync state', primary, later(primary, { replication: [{ ...primary.replication[0]!, syncState: 'async' }, primary.replication[1]!] })],
      ['standby gone', primary, later(primary, { replication: [primary.replication[0]!] })],
      ['sync names', primary, later(primary, { synchronousStandbyNames: '' })],
      ['lag over the limit', standby, later(standby, { lagBytes: 1_000_001 })],
      ['lease term', standby, later(standby, { lease: { version: 8, changedSeenAt: 0, term: 2 } })],
    ];
    for (const [what, before, after] of changes) assert.equal(shouldWrite(before, after, opts), true, what);
  });

  test('replication rows in another order are no change', () => {
    const reordered = later(primary, { replication: [...primary.replication].reverse() });
    assert.equal(shouldWrite(primary, reordered, opts), false);
  });
});

describe('a node that stays down', () => {
  const timing = TimingSpec.parse({});
  const down = (at: number, count: number, patch: Partial<NodeObservation> = {}): NodeObservation =>
    observation('pg1', at, { cluster: 'c1', reachable: false, error: { kind: 'timeout', message: 'x' }, consecutiveFailures: count, failingSince: 1_000_000, role: 'unknown', ...patch });
  const withThreshold = { ...opts, failureThreshold: timing.failureThreshold };

  test('failure counts are news up to the threshold, not past it', () => {
    assert.equal(shouldWrite(down(1_000_150, 1), down(1_000_300, 2), withThreshold), true);
    assert.equal(shouldWrite(down(1_000_300, 2), down(1_000_450, 3), withThreshold), true);
    assert.equal(shouldWrite(down(1_000_600, 4), down(1_000_750, 5), withThreshold), false);
    assert.equal(shouldWrite(down(1_000_600, 4), down(1_010_600, 70), withThreshold), true, 'still at the heartbeat');
  });

  test('it is written when a time limit of the decider passes between two rounds, and only then', () => {
    const standby = observation('pg2', 1_002_000, { cluster: 'c1', reachable: true, role: 'standby', receiverSince: 1_002_000 });
    const deadlines = (o: NodeObservation) => failureDeadlines(o, [o, standby], timing);
    const window = timing.probeIntervalMs * timing.failureThreshold;
    // The failure window from the first failed probe.
    const beforeWindow = down(1_000_000 + window - 1, 3);
    const atWindow = down(1_000_000 + window + 149, 4);
    assert.equal(shouldWrite(beforeWindow, atWindow, { ...withThreshold, deadlines: deadlines(atWindow) }), true);
    // From the standby's receiver change: the cut-off window and the lease witness's fenceWaitMs.
    for (const limit of [window, timing.fenceWaitMs]) {
      const last = down(1_002_000 + limit - 100, 20);
      const next = down(1_002_000 + limit + 50, 21);
      assert.equal(shouldWrite(last, next, { ...withThreshold, deadlines: deadlines(next) }), true, `${limit} ms after the receiver change`);
    }
    // The lease seen quiet for fenceWaitMs.
    const lease = { version: 3, changedSeenAt: 1_000_500, term: 1 };
    const quietSoon = down(1_000_500 + timing.fenceWaitMs - 10, 30, { lease });
    const quiet = down(1_000_500 + timing.fenceWaitMs + 140, 31, { lease });
    assert.equal(shouldWrite(quietSoon, quiet, { ...withThreshold, deadlines: failureDeadlines(quiet, [quiet], timing) }), true);
    // A lease standing by a longer TTL (a standby's renewal): its proof waits that much longer, and so does the write.
    const standbyLease = { ...lease, ttlMs: timing.leaseTtlMs + 5_000 };
    const notYet = down(1_000_500 + timing.fenceWaitMs + 140, 32, { lease: standbyLease });
    assert.equal(shouldWrite(down(1_000_500 + timing.fenceWaitMs - 10, 31, { lease: standbyLease }), notYet, { ...withThreshold, deadlines: failureDeadlines(notYet, [notYet], timing) }), false);
    // That TTL changing is news too (the node's agent started or stopped renewing as a standby's).
    assert.equal(shouldWrite(quietSoon, down(1_000_500 + timing.fenceWaitMs - 5, 31, { lease: standbyLease }), withThreshold), true);
    const longQuiet = down(1_000_500 + timing.fenceWaitMs + 5_140, 33, { lease: standbyLease });
    assert.equal(shouldWrite(down(1_000_500 + timing.fenceWaitMs + 4_990, 32, { lease: standbyLease }), longQuiet, { ...withThreshold, deadlines: failureDeadlines(longQuiet, [longQuiet], timing) }), true);
    // Between limits nothing is news.
    const a = down(1_020_000, 200, { lease });
    const b = down(1_020_150, 201, { lease });
    assert.equal(shouldWrite(a, b, { ...withThreshold, deadlines: deadlines(b) }), false);
    assert.deepEqual(failureDeadlines(standby, [standby], timing), [], 'a node that answers has no such limits');
  });

  test('its agent renewing again after it went down is news once (the decider restarts it on that)', () => {
    const stale = { version: 3, changedSeenAt: 999_000, term: 1 };
    const renewed = { version: 4, changedSeenAt: 1_001_000, term: 1 };
    assert.equal(shouldWrite(down(1_000_900, 9, { lease: stale }), down(1_001_050, 10, { lease: renewed }), withThreshold), true);
    assert.equal(shouldWrite(down(1_001_050, 10, { lease: renewed }), down(1_002_050, 16, { lease: { ...renewed, version: 5, changedSeenAt: 1_002_000 } }), withThreshold), false);
  });
});
