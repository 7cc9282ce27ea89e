import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { DecisionEvent } from '../domain/events.ts';
import { parseWith } from '../domain/parse.ts';
import { loadState } from '../store/loadState.ts';
import { clusterOfPartition } from '../store/partitions.ts';
import type { ControlPlane } from './controlPlane.ts';
import { decideOnce } from './decideOnce.ts';
import type { LambdaEnv } from './lambdaEnv.ts';
import type { CommitResult } from '../store/commitDecision.ts';
import { ActionResultInvoke, OperatorInvoke, ScheduledBackup, ScheduledEvent, StreamBatch, StreamRecord } from './lambdaEvents.ts';
import { runScheduledBackup, type ScheduledBackupDeps, type ScheduledBackupOutcome } from './scheduledBackup.ts';

export type DecideAnswer =
  | { batchItemFailures: { itemIdentifier: string }[] }
  | { ok: true; seq: number; events: DecisionEvent[] }
  | { ok: false; reason: string; refused: boolean }
  | { ticked: { cluster: string; ok: boolean; reason?: string }[] }
  | { backup: ScheduledBackupOutcome };

/**
 * The decide function's doors: the table's stream (observations changed), the one-minute
 * tick, an operator command by invoke, and an intent's result from the act function, each
 * ending in decideOnce; and the backup schedule, which asks a standby's agent for a backup
 * and decides nothing.
 */
export async function handleDecideEvent(event: unknown, env: LambdaEnv, cp: ControlPlane, backupDeps: ScheduledBackupDeps = {}): Promise<DecideAnswer> {
  if (typeof event === 'object' && event !== null && (event as { source?: unknown }).source === ActionResultInvoke.shape.source.value) {
    const result = parseWith(ActionResultInvoke, event, 'action result');
    if (!result.ok) return { ok: false, refused: true, reason: result.reason };
    const d = await decideOnce(cp, result.value.cluster, result.value.command);
    return d.ok ? { ok: true, seq: d.seq, events: d.events } : { ok: false, reason: d.reason, refused: d.refused };
  }
  const op = OperatorInvoke.safeParse(event);
  if (op.success) {
    const d = await decideOnce(cp, op.data.cluster, op.data.command);
    return d.ok ? { ok: true, seq: d.seq, events: d.events } : { ok: false, reason: d.reason, refused: d.refused };
  }
  if (ScheduledEvent.safeParse(event).success) return tick(env, cp);
  if (typeof event === 'object' && event !== null && (event as { source?: unknown }).source === ScheduledBackup.shape.source.value) {
    const backup = parseWith(ScheduledBackup, event, 'scheduled backup');
    if (!backup.ok) return { ok: false, refused: true, reason: backup.reason };
    const { cluster } = backup.value;
    if (!env.PGVIGIL_CLUSTERS.some((c) => c.cluster === cluster)) {
      return { ok: false, refused: true, reason: `scheduled backup: cluster: ${cluster} is not a cluster of this deployment (${env.PGVIGIL_CLUSTERS.map((c) => c.cluster).join(', ')})` };
    }
    return { backup: await runScheduledBackup(cp, cluster, backupDeps) };
  }
  const batch = StreamBatch.safeParse(event);
  if (batch.success) return streamBatch(batch.data, cp);
  const hint = typeof event === 'object' && event !== null && 'source' in event ? ` (source ${String((event as { source: unknown }).source)})` : '';
  return { ok: false, reason: `decide: not a stream batch, a scheduled event, a scheduled backup or an operator command${hint}`, refused: true };
}

/**
 * One decide per cluster named in the batch, shared by its records. Powertools' BatchProcessor
 * reports the records that failed by their SequenceNumber, so Lambda retries from the first of
 * them and no further back; a record that can't be read fails alone and cannot block the shard
 * for the others (it lands in the DLQ after its retries).
 */
async function streamBatch(event: { Records: unknown[] }, cp: ControlPlane): Promise<DecideAnswer> {
  const runs = new Map<string, Promise<CommitResult>>();
  const decideRecord = async (raw: unknown) => {
    const r = parseWith(StreamRecord, raw, 'stream record');
    if (!r.ok) {
      cp.log({ level: 'error', msg: 'unreadable stream record', error: r.reason });
      throw new Error(r.reason);
    }
    // Observations live in obs#<cluster> (lib/store/partitions.ts).
    const cluster = clusterOfPartition(r.value.dynamodb.Keys.cluster.S);
    const run = runs.get(cluster) ?? decideOnce(cp, cluster, { type: 'probeRound', now: cp.clock() });
    runs.set(cluster, run);
    const d = await run;
    // A refusal (an unreadable log) won't heal by retrying the records; a store outage will.
    if (!d.ok && !d.refused) throw new Error(d.reason);
  };
  return processPartialResponse(event as Parameters<typeof processPartialResponse>[0], decideRecord, new BatchProcessor(EventType.DynamoDBStreams), { throwOnFullBatchFailure: false });
}

/** The tick: time-based rules for every cluster, and a first start for a cluster the log doesn't know yet. */
async function tick(env: LambdaEnv, cp: ControlPlane): Promise<DecideAnswer> {
  const ticked: { cluster: string; ok: boolean; reason?: string }[] = [];
  for (const spec of env.PGVIGIL_CLUSTERS) {
    const loaded = await loadState(cp.store, spec.cluster);
    const command =
      loaded.ok && loaded.state.spec === null
        ? ({ type: 'initialize', now: cp.clock(), spec, primary: spec.nodes[0]!.name } as const)
        : ({ type: 'tick', now: cp.clock() } as const);
    const d = await decideOnce(cp, spec.cluster, command);
    ticked.push(d.ok ? { cluster: spec.cluster, ok: true } : { cluster: spec.cluster, ok: false, reason: d.reason });
  }
  return { ticked };
}
