// Store throughput against embedded dynalite: appends, reads, and the cost of a 10,000-event
// replay with and without a snapshot. Prints progress, then one line of figures.
import { fold } from '../../lib/domain/evolve.ts';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import { initialState } from '../../lib/domain/state.ts';
import { appendDecision, readDecisions } from '../../lib/store/decisionLog.ts';
import { loadState } from '../../lib/store/loadState.ts';
import { putSnapshot } from '../../lib/store/snapshots.ts';
import { ev } from '../support/decisionEventFixture.ts';
import { startStoreFixture } from '../support/storeFixture.ts';

const EVENTS = 10_000;
const PER_DECISION = 10;
const DECISIONS = EVENTS / PER_DECISION;

const progress = (msg: string) => process.stdout.write(`# ${msg}\n`);
const elapsed = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const fail = (what: string, reason: string): never => {
  throw new Error(`${what}: ${reason}`);
};

const fx = await startStoreFixture();
try {
  const cluster = 'bench';
  const outcome = (seq: number): DecisionEvent[] =>
    seq === 1
      ? [ev.initialized(cluster), ...Array.from({ length: PER_DECISION - 1 }, (_, k) => ev.paused(k, `pause ${seq}.${k}`))]
      : Array.from({ length: PER_DECISION }, (_, k) => (k % 2 === 0 ? ev.nodeDown(seq, 'beta', `down ${seq}.${k}`) : ev.resumed(seq, `resume ${seq}.${k}`)));

  progress(`appending ${DECISIONS} decisions of ${PER_DECISION} events`);
  let t0 = process.hrtime.bigint();
  const all: DecisionEvent[] = [];
  for (let seq = 1; seq <= DECISIONS; seq++) {
    const events = outcome(seq);
    const r = await appendDecision(fx.store, cluster, seq, events);
    if (!r.ok) fail(`append ${seq}`, 'conflict' in r && r.conflict ? 'conflict' : (r as { reason: string }).reason);
    all.push(...events);
    if (seq % 250 === 0) progress(`  ${seq}/${DECISIONS}`);
  }
  const appendPerS = DECISIONS / (elapsed(t0) / 1000);

  progress('reading the whole log');
  t0 = process.hrtime.bigint();
  const read = await readDecisions(fx.store, cluster);
  if (!read.ok) fail('read', read.reason);
  const readMs = elapsed(t0);
  const readEvents = read.ok ? read.items.reduce((n, d) => n + d.events.length, 0) : 0;
  if (readEvents !== EVENTS) fail('read', `got ${readEvents} events, expected ${EVENTS}`);

  progress('replaying 10k events without a snapshot');
  t0 = process.hrtime.bigint();
  const plain = await loadState(fx.store, cluster);
  const replayMs = elapsed(t0);
  if (!plain.ok) fail('replay', plain.reason);

  const snapSeq = DECISIONS - 5;
  const snapState = fold(initialState(cluster), all.slice(0, snapSeq * PER_DECISION));
  const put = await putSnapshot(fx.store, cluster, snapSeq, snapState);
  if (!put.ok) fail('snapshot', put.reason);
  progress(`replaying with a snapshot at ${snapSeq} (tail of ${(DECISIONS - snapSeq) * PER_DECISION} events)`);
  t0 = process.hrtime.bigint();
  const viaSnap = await loadState(fx.store, cluster);
  const replaySnapMs = elapsed(t0);
  if (!viaSnap.ok) fail('replay with snapshot', viaSnap.reason);
  if (plain.ok && viaSnap.ok && JSON.stringify(plain.state) !== JSON.stringify(viaSnap.state)) fail('replay', 'snapshot + tail differs from full replay');

  const f = (n: number) => (n >= 100 ? Math.round(n).toString() : n.toFixed(1));
  process.stdout.write(
    `store append_per_s=${f(appendPerS)} read_events_per_s=${f(readEvents / (readMs / 1000))} replay_ms_10k=${f(replayMs)} replay_ms_10k_snapshot=${f(replaySnapMs)}\n`,
  );
} finally {
  await fx.stop();
}
