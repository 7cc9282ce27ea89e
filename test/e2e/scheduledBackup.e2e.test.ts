import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { handler as decideHandler } from '../../functions/decide.ts';
import { openArchive, type ArchiveStore } from '../../lib/backup/archiveStore.ts';
import { listBackups, type BackupEntry } from '../../lib/backup/backupList.ts';
import type { ScheduledBackupOutcome } from '../../lib/control/scheduledBackup.ts';
import { localArchiveTarget } from '../../lib/local/localArchive.ts';
import { latestObservations } from '../../lib/store/observations.ts';
import { roleOf, startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { useHandlerEnv } from '../support/handlerEnv.ts';
import { sqlAt } from '../support/sqlAt.ts';

// Derived ports (localPorts): pg BASE+0..2, agents BASE+100.., proxy BASE+200.., store BASE+300.
const BASE = 18600;

/** The constant input of the CDK backup schedule rule (cdk/archive.ts). */
const scheduled = { source: 'pgvigil.schedule', action: 'backup', cluster: 'local' };

/** A Lambda context with this much of its timeout left. */
const lambdaContext = (remainingMs: number) => {
  const end = Date.now() + remainingMs;
  return { awsRequestId: `req-${end}`, getRemainingTimeInMillis: () => end - Date.now() };
};

describe('scheduled backup through the real decide handler: a standby\'s agent backs up into the archive', () => {
  let p: TestPipeline;
  let archive: ArchiveStore;
  let restoreEnv = () => {};

  const backups = async (): Promise<BackupEntry[]> => {
    const listed = await listBackups(archive);
    if (!listed.ok) throw new Error(listed.reason);
    return listed.backups;
  };

  before(async () => {
    // The local control loop keeps probing: its observations in dynalite are what the handler chooses from.
    p = await startTestPipeline(BASE);
    archive = await openArchive(localArchiveTarget(p.workDir));
    // Enough data that a backup outlasts the 1 s the second case gives the agent to answer (~2 s more without it).
    await sqlAt(p.writerUrl, 'CREATE TABLE filler AS SELECT g AS id, md5(g::text) AS pad FROM generate_series(1, 300000) g');
    await p.cluster.waitStreaming();
    // No topic: SNS is not reachable from here; failures are then logged only.
    restoreEnv = await useHandlerEnv(p, { region: 'us-east-1', topicArn: null });
    // As on AWS, the handler knows the cluster only through the probes' observations: wait until they show both standbys streaming.
    await waitFor('observations of pg2 and pg3 streaming from pg1', async () => {
      const read = await latestObservations(p.store, 'local', Date.now() - 5_000);
      return read.ok && ['pg2', 'pg3'].every((n) => read.observations.some((o) => o.node === n && o.walReceiver?.status === 'streaming' && o.walReceiver.upstream === 'pg1'));
    }, 60_000);
  });

  after(async () => {
    await p?.dispose();
    restoreEnv();
  });

  test('the schedule\'s event: a complete backup from a standby appears in the archive, and the answer names it', async () => {
    assert.deepEqual(await backups(), [], 'the archive starts with no backup');
    const answer = (await decideHandler(scheduled, lambdaContext(60_000))) as { backup: ScheduledBackupOutcome };
    const outcome = answer.backup;
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    if (!outcome.ok) return;
    assert.equal(outcome.cluster, 'local');
    assert.match(outcome.reason, new RegExp(`streams from pg1`));

    const listed = await backups();
    assert.equal(listed.length, 1);
    const [b] = listed;
    assert.equal(b!.id, outcome.backupId);
    assert.equal(b!.complete, true, `backup ${b!.id} has its manifest`);
    assert.equal(b!.node, outcome.node, 'the manifest names the node the handler chose');
    assert.notEqual(outcome.node, 'pg1');
    assert.equal(await roleOf(p, outcome.node), 'standby', 'taken from a standby, not the primary');
    assert.ok(b!.bytes > 0);
  });

  test('the invocation runs out of time first: the answer says unconfirmed, and the agent still finishes the backup', async () => {
    const before = new Set((await backups()).map((b) => b.id));
    // Nothing left of the invocation: the handler waits its 1 s floor, far less than a backup takes.
    const answer = (await decideHandler(scheduled, lambdaContext(0))) as { backup: ScheduledBackupOutcome };
    const outcome = answer.backup;
    assert.equal(outcome.ok, false, JSON.stringify(outcome));
    if (outcome.ok) return;
    assert.equal(outcome.unconfirmed, true, outcome.reason);
    assert.ok(outcome.node === 'pg2' || outcome.node === 'pg3', `a standby was asked (${outcome.node})`);
    assert.match(outcome.reason, /no answer within 1000 ms: a backup the agent started keeps running/);

    const finished = await waitFor('the backup the caller left to complete in the archive', async () => {
      const fresh = (await backups()).filter((b) => !before.has(b.id));
      return fresh.length === 1 && fresh[0]!.complete ? fresh[0]! : false;
    }, 120_000);
    assert.equal(finished.node, outcome.node);
  });

  test('an event for a cluster this deployment does not have is refused, naming it', async () => {
    assert.deepEqual(await decideHandler({ ...scheduled, cluster: 'other' }, lambdaContext(60_000)), {
      ok: false,
      refused: true,
      reason: 'scheduled backup: cluster: other is not a cluster of this deployment (local)',
    });
  });
});
