import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, given, initialized, makeSpec, obs, others, round } from './kit.ts';

/*
 * Issue 13 item 2 (found by PROPERTY_SEED=906055355, 1070664584, 474098216 once the world had
 * partial partitions): the primary of the term stopped itself when its lease lapsed, every other
 * node was down too, and nothing ever started it again. A host whose PostgreSQL refuses
 * connections is seen (not blindness), and its agent is asked to start it as primary of its term.
 */
const spec = makeSpec();
const start = initialized(spec);
const ttl = spec.timing.leaseTtlMs;
const failures = 20;
const at = T0 + 10_000;
const lease = (seenAt: number) => ({ version: 9, changedSeenAt: seenAt, term: 1, members: others('pg1'), ttlMs: ttl });
const pg1Down = (leaseSeenAt: number) => obs.failing('pg1', at, failures, { lease: lease(leaseSeenAt) });

describe('rule 5: a primary that stopped itself is started again when nothing can replace it', () => {
  test('given pg1 refusing connections while its agent renews, and no standby in sight, then its agent is asked to start it as primary of term 1', () => {
    const t = given(start).when(round([pg1Down(at - 100), obs.failing('pg2', at, failures, {}, 'timeout'), obs.failing('pg3', at, failures, {}, 'timeout')], at));
    const [restart] = t.intents('promote');
    assert.deepEqual([restart?.node, restart?.term], ['pg1', 1]);
    const asked = t.events.find((e) => e.type === 'ActionRequested' && e.intent.action === 'promote');
    assert.match(asked?.reason ?? '', /start it again as primary of its term/);
    assert.ok(!t.types.includes('ControlPlaneBlind'), 'a host that refuses connections is seen');
  });

  test('given its lease last moved before it could have stopped itself (an agent that died with it), then nothing is asked', () => {
    const failedAt = at - failures * 250;
    const t = given(start).when(round([pg1Down(failedAt + ttl - 50), obs.failing('pg2', at, failures, {}, 'timeout'), obs.failing('pg3', at, failures, {}, 'timeout')], at));
    assert.deepEqual(t.intents('promote'), []);
  });

  test('given a standby that can take over, then a failover starts instead', () => {
    const standby = (n: string) => obs.standby(n, at, null, { receiverSince: at - 5_000 });
    const t = given(start).when(round([pg1Down(at - 100), standby('pg2'), standby('pg3')], at));
    assert.equal(t.one('FailoverStarted').from, 'pg1');
    assert.ok(!t.intents('promote').some((i) => i.node === 'pg1'));
  });
});
