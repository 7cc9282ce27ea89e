// Bring-up of a 3-node synchronous local cluster, probe rounds against it, teardown.
// Run: npx tsx test/bench/localCluster.bench.ts   (ports 15450-15452)
import { mkdtemp, rm } from 'node:fs/promises';
import { createLocalCluster } from '../../lib/local/localCluster.ts';
import { parseClusterSpec } from '../../lib/domain/spec.ts';
import type { NodeObservation } from '../../lib/domain/observation.ts';
import { probeRound } from '../../lib/probe/probeRound.ts';

async function main(): Promise<void> {
  const workDir = await mkdtemp('/tmp/pgvigil-b-bench-');
  const t0 = performance.now();
  const cluster = await createLocalCluster({ workDir, basePort: 15450, replication: { mode: 'synchronous', quorum: 1 } });
  const upMs = performance.now() - t0;
  const rounds: number[] = [];
  let stopMs = 0;
  try {
    const parsed = parseClusterSpec({ cluster: 'bench', nodes: cluster.specNodes() });
    if (!parsed.ok) throw new Error(parsed.reason);
    let previous = new Map<string, NodeObservation>();
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      const obs = await probeRound(parsed.value, { prober: 'bench', now: () => Date.now(), previous });
      rounds.push(performance.now() - t);
      if (!obs.every((o) => o.reachable)) throw new Error('a node was unreachable during the bench');
      previous = new Map(obs.map((o) => [o.node, o]));
    }
  } finally {
    const t1 = performance.now();
    await cluster.stopAll();
    stopMs = performance.now() - t1;
    await rm(workDir, { recursive: true, force: true });
  }
  rounds.sort((a, b) => a - b);
  const median = rounds[Math.floor(rounds.length / 2)]!;
  const max = rounds[rounds.length - 1]!;
  console.log(
    `localCluster bench: 3-node sync bring-up ${Math.round(upMs)} ms; probe round (3 nodes, ${rounds.length} rounds) median ${median.toFixed(1)} ms, max ${max.toFixed(1)} ms; stopAll ${Math.round(stopMs)} ms`,
  );
}

await main();
