import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { T0, crashedRound, given, initialized, makeSpec, obs, round, step } from './kit.ts';

const spec = makeSpec();
const start = initialized(spec);

describe('rule 2: which standby is promoted', () => {
  test('given a nofailover standby with the highest priority, then the other standby is the candidate', () => {
    const s = makeSpec({
      nodes: [
        { name: 'pg1', host: 'h1', port: 5432, agent: 'http://h1:8008' },
        { name: 'pg2', host: 'h2', port: 5432, agent: 'http://h2:8008', tags: { priority: 900, nofailover: true } },
        { name: 'pg3', host: 'h3', port: 5432, agent: 'http://h3:8008' },
      ],
    });
    const t = given(initialized(s)).when(round(crashedRound(T0, 3), T0));
    assert.equal(t.one('FailoverStarted').to, 'pg3');
  });

  test('given a synchronous quorum where pg3 received more WAL, then pg3 is the candidate whatever the priorities', () => {
    const s = makeSpec({
      nodes: [
        { name: 'pg1', host: 'h1', port: 5432, agent: 'http://h1:8008' },
        { name: 'pg2', host: 'h2', port: 5432, agent: 'http://h2:8008', tags: { priority: 900 } },
        { name: 'pg3', host: 'h3', port: 5432, agent: 'http://h3:8008', tags: { priority: 1 } },
      ],
    });
    const t = given(initialized(s)).when(round(crashedRound(T0, 3, { pg2: 900, pg3: 1000 }), T0));
    const started = t.one('FailoverStarted');
    assert.equal(started.to, 'pg3');
    assert.match(started.reason, /highest LSN/);
  });

  test('given ANY 1 of 2 and one quorum member unreachable, then no failover: the other may hold the only copy of a commit', () => {
    const rounds = [obs.failing('pg1', T0, 3), obs.standby('pg2', T0, null), obs.failing('pg3', T0, 3)];
    const t = given(start).when(round(rounds, T0));
    assert.ok(!t.types.includes('FailoverStarted'));
    assert.match(t.one('FailoverImpossible').reason, /2 members must be reachable/);
  });

  test('given the failover is impossible, then it is reported once, not every round', () => {
    const rounds = (at: number) => [obs.failing('pg1', at, 3), obs.standby('pg2', at, null), obs.failing('pg3', at, 3)];
    const after = step(start, round(rounds(T0), T0));
    const t = given(after).when(round(rounds(T0 + 250), T0 + 250));
    assert.ok(!t.types.includes('FailoverImpossible'));
  });

  test('given async mode and pg2 beyond maximumLagOnFailover, then only pg3 is a candidate', () => {
    const s = makeSpec({ replication: { mode: 'async', maximumLagOnFailover: 100 } });
    const t = given(initialized(s)).when(round(crashedRound(T0, 3, { pg2: 500, pg3: 950 }), T0));
    assert.equal(t.one('FailoverStarted').to, 'pg3');
  });

  test('given async mode and every standby beyond the limit, then the failover is impossible and says why', () => {
    const s = makeSpec({ replication: { mode: 'async', maximumLagOnFailover: 10 } });
    const t = given(initialized(s)).when(round(crashedRound(T0, 3, { pg2: 500, pg3: 600 }), T0));
    assert.match(t.one('FailoverImpossible').reason, /pg2: lag 500 bytes exceeds maximumLagOnFailover 10/);
    assert.equal(t.intents().length, 0);
  });
});
