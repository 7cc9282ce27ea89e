import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeObservation } from '../../lib/domain/observation.ts';
import { shouldWrite } from '../../lib/probe/edgeTrigger.ts';
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
