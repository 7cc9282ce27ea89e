import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { DecisionEvent } from '../domain/events.ts';
import { parseWith } from '../domain/parse.ts';
import { loadState } from '../store/loadState.ts';
import { latestObservations } from '../store/observations.ts';
import { staleAfterMs, type ClusterSpec } from '../domain/spec.ts';
import type { ClusterState } from '../domain/state.ts';
import { clusterOfPartition } from '../store/partitions.ts';
import { WAKE_PREFIX } from '../store/sortKeys.ts';
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
    await freshenForCommand(env, cp, op.data.cluster);
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
  // Agents' wakes (W#): one probe start per cluster named, shared by its records (the first one's reason rides with it).
  const wakes = new Map<string, Promise<{ ok: true } | { ok: false; reason: string }>>();
  const decideRecord = async (raw: unknown) => {
    const r = parseWith(StreamRecord, raw, 'stream record');
    if (!r.ok) {
      cp.log({ level: 'error', msg: 'unreadable stream record', error: r.reason });
      throw new Error(r.reason);
    }
    // Observations live in obs#<cluster>, wakes in lease#<cluster>#<node> (lib/store/partitions.ts).
    const cluster = clusterOfPartition(r.value.dynamodb.Keys.cluster.S);
    if (r.value.dynamodb.Keys.sk.S.startsWith(WAKE_PREFIX)) {
      await wakeProbe(cluster, wakeReason(r.value.dynamodb.NewImage));
      return;
    }
    const run = runs.get(cluster) ?? decideOnce(cp, cluster, { type: 'probeRound', now: cp.clock() });
    runs.set(cluster, run);
    const d = await run;
    // A refusal (an unreadable log) won't heal by retrying the records; a store outage will.
    if (!d.ok && !d.refused) throw new Error(d.reason);
  };
  const wakeProbe = async (cluster: string, reason: string | null) => {
    if (!cp.runProbe) {
      cp.log({ level: 'warn', msg: 'an agent woke the probe, but this decide cannot start it (the probe runs all the time, or PGVIGIL_PROBE_FUNCTION is unset)', cluster, reason });
      return;
    }
    let started = wakes.get(cluster);
    if (!started) {
      started = cp.runProbe(cluster, { wait: false, reasons: reason === null ? [] : [reason] });
      wakes.set(cluster, started);
    }
    const s = await started;
    if (!s.ok) throw new Error(`starting the probe for ${cluster}: ${s.reason}`);
  };
  return processPartialResponse(event as Parameters<typeof processPartialResponse>[0], decideRecord, new BatchProcessor(EventType.DynamoDBStreams), { throwOnFullBatchFailure: false });
}

/** The reason an agent gave in its wake (lib/store/wakes.ts), from the record's new image. */
function wakeReason(image: Record<string, unknown> | undefined): string | null {
  const reason = image?.['reason'];
  return reason && typeof reason === 'object' && 'S' in reason && typeof reason.S === 'string' ? reason.S.slice(0, 300) : null;
}

/** Nothing the log has in progress waits on a time limit: no failover, intent, deposed primary or blindness. */
function quietCluster(state: ClusterState): boolean {
  return state.failover === null && state.pending.length === 0 && Object.keys(state.deposed).length === 0 && !state.blind;
}

async function freshObservations(cp: ControlPlane, spec: ClusterSpec, now: number): Promise<{ ok: true; nodes: Set<string> } | { ok: false }> {
  const read = await latestObservations(cp.store, spec.cluster, now - staleAfterMs(spec.timing));
  return read.ok ? { ok: true, nodes: new Set(read.observations.map((o) => o.node)) } : { ok: false };
}

/** Some node has an observation within the staleness bound (a store error counts as fresh: the tick then runs, as always). */
async function anyFresh(cp: ControlPlane, spec: ClusterSpec, now: number): Promise<boolean> {
  const read = await freshObservations(cp, spec, now);
  return !read.ok || read.nodes.size > 0;
}

/**
 * With the on-wake probe, an operator command between its runs would be judged on observations
 * past the staleness bound (every node unseen): run the probe for this cluster first and wait.
 * A probe that can't be run leaves the command to be judged as it stands (refused, saying why).
 */
async function freshenForCommand(env: LambdaEnv, cp: ControlPlane, cluster: string): Promise<void> {
  const spec = env.PGVIGIL_CLUSTERS.find((s) => s.cluster === cluster);
  if (env.PGVIGIL_PROBE_CADENCE !== 'on-wake' || !cp.runProbe || !spec) return;
  const fresh = await freshObservations(cp, spec, cp.clock());
  if (fresh.ok && spec.nodes.every((n) => fresh.nodes.has(n.name))) return;
  const ran = await cp.runProbe(cluster, { wait: true, reasons: ['an operator command found no fresh observation'] });
  if (!ran.ok) cp.log({ level: 'warn', msg: 'could not run the probe before an operator command: it is judged on the observations there are', cluster, reason: ran.reason });
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
    if (command.type === 'tick' && loaded.ok && env.PGVIGIL_PROBE_CADENCE === 'on-wake' && quietCluster(loaded.state) && !(await anyFresh(cp, loaded.state.spec ?? spec, command.now))) {
      // The on-wake probe writes a quiet cluster once a minute: observations past the staleness
      // bound are then no news, and a tick on them would record blindness every minute.
      ticked.push({ cluster: spec.cluster, ok: true, reason: 'quiet: no fresh observation, nothing in progress' });
      continue;
    }
    const d = await decideOnce(cp, spec.cluster, command);
    ticked.push(d.ok ? { cluster: spec.cluster, ok: true } : { cluster: spec.cluster, ok: false, reason: d.reason });
  }
  return { ticked };
}
