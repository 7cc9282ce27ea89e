import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { WriteLoad, missingAcked } from '../support/writeLoad.ts';

// The harness behind every lost_acked figure: it must not count as lost a write the server has.
let workDir: string;
let cluster: LocalCluster | undefined;
before(async () => {
  workDir = await mkdtemp('/tmp/pgvigil-d-writeload-');
  cluster = await createLocalCluster({ workDir, basePort: 15470, names: ['pg1'], replication: { mode: 'async', maximumLagOnFailover: 1024 * 1024 } });
});
after(async () => {
  await cluster?.stopAll();
  await rm(workDir, { recursive: true, force: true });
});

test('missingAcked on a healthy server under a running load reports no write missing, 300 checks out of 300', async () => {
  const url = cluster!.connectionString('pg1');
  await WriteLoad.prepare(url);
  const load = new WriteLoad(url, 'pgvigil_writes', 1);
  load.start();
  try {
    // Each check overlaps writes acknowledged after its SELECT's snapshot: with the live array those were reported as lost.
    for (let i = 0; i < 300; i++) assert.deepEqual(await missingAcked(url, load.acked), [], `check ${i} of 300 (${load.acked.length} acknowledged)`);
  } finally {
    await load.stop();
  }
  assert.ok(load.acked.length > 300, `the load kept writing during the checks (${load.acked.length} acknowledged)`);
});
