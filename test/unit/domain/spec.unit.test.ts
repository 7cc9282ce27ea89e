import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseClusterSpec } from '../../../lib/domain/spec.ts';

const node = (name: string, port: number) => ({ name, host: '127.0.0.1', port, agent: `http://127.0.0.1:${port + 1000}` });
const valid = { cluster: 'main', nodes: [node('pg1', 5432), node('pg2', 5433), node('pg3', 5434)] };

describe('cluster spec validation', () => {
  test('given a minimal spec, defaults make it synchronous ANY 1 with ordered timeouts', () => {
    const r = parseClusterSpec(valid);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.deepEqual(r.value.replication, { mode: 'synchronous', quorum: 1 });
    const t = r.value.timing;
    assert.ok(t.probeIntervalMs * t.failureThreshold < t.leaseTtlMs && t.leaseTtlMs < t.fenceWaitMs);
  });

  test('given a lease TTL inside the failure window, it is refused naming leaseTtlMs (rule 7)', () => {
    const r = parseClusterSpec({ ...valid, timing: { probeIntervalMs: 1000, failureThreshold: 3, leaseTtlMs: 2000, fenceWaitMs: 5000 } });
    assert.ok(!r.ok);
    assert.match(r.reason, /^cluster spec: timing\.leaseTtlMs: must exceed probeIntervalMs × failureThreshold \(3000 ms\)/);
  });

  test('given a fence wait not longer than the lease TTL, it is refused naming fenceWaitMs (rule 7)', () => {
    const r = parseClusterSpec({ ...valid, timing: { leaseTtlMs: 5000, fenceWaitMs: 5000 } });
    assert.ok(!r.ok);
    assert.match(r.reason, /timing\.fenceWaitMs: must exceed leaseTtlMs \(5000 ms\).*raise fenceWaitMs/);
  });

  test('given a fence wait only 1 ms past the lease TTL, it is refused: the margin must cover the agent stopping PostgreSQL (issue 12, path 6)', () => {
    const r = parseClusterSpec({ ...valid, timing: { leaseTtlMs: 5000, fenceWaitMs: 5001 } });
    assert.ok(!r.ok);
    assert.match(r.reason, /timing\.fenceWaitMs: must exceed leaseTtlMs \(5000 ms\) by at least 500 ms .*raise fenceWaitMs to 5500 or more/);
    assert.ok(parseClusterSpec({ ...valid, timing: { leaseTtlMs: 5000, fenceWaitMs: 5500 } }).ok);
  });

  test('given a node without a port, it is refused naming nodes.N.port', () => {
    const { port: _port, ...noPort } = node('pg2', 5433);
    const r = parseClusterSpec({ ...valid, nodes: [node('pg1', 5432), noPort] });
    assert.ok(!r.ok);
    assert.match(r.reason, /^cluster spec: nodes\.1\.port: give the PostgreSQL port/);
  });

  test('given two nodes with one name, it is refused naming the duplicate', () => {
    const r = parseClusterSpec({ ...valid, nodes: [node('pg1', 5432), node('pg1', 5433)] });
    assert.ok(!r.ok);
    assert.match(r.reason, /nodes\.1\.name: duplicate node name "pg1"/);
  });

  test('given a quorum larger than the standbys that may be synchronous, it is refused', () => {
    const r = parseClusterSpec({ ...valid, replication: { mode: 'synchronous', quorum: 3 } });
    assert.ok(!r.ok);
    assert.match(r.reason, /replication\.quorum: quorum 3 exceeds the 2 standbys/);
  });

  test('given an unknown field, it is refused rather than ignored', () => {
    const r = parseClusterSpec({ ...valid, probeInterval: 100 });
    assert.ok(!r.ok);
    assert.match(r.reason, /probeInterval/);
  });

  test('each refusal is one line', () => {
    const r = parseClusterSpec({ cluster: 'Bad Name', nodes: [] });
    assert.ok(!r.ok);
    assert.equal(r.reason.split('\n').length, 1);
  });
});
