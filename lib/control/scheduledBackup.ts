import { agentTargetOf, callAgent } from '../agent/agentClient.ts';
import type { SnsAlert, PublishResult } from '../alerts/snsPublisher.ts';
import { chooseBackupStandby } from '../domain/backupSource.ts';
import { viewNodes } from '../domain/view.ts';
import { loadState } from '../store/loadState.ts';
import { latestObservations } from '../store/observations.ts';
import { OBSERVATION_WINDOW_MS } from './commitCommand.ts';
import type { ControlPlane } from './controlPlane.ts';

export type ScheduledBackupOutcome =
  | { ok: true; cluster: string; node: string; backupId: string; reason: string }
  /** unconfirmed: the agent did not answer in time; a backup it started keeps running. */
  | { ok: false; cluster: string; node: string | null; reason: string; unconfirmed: boolean };

export interface ScheduledBackupDeps {
  /** ms before the invocation is cut off (Lambda's getRemainingTimeInMillis). */
  remainingMs?: () => number;
  /** The alert topic; absent: failures are only logged. */
  alert?: (alert: SnsAlert) => Promise<PublishResult>;
}

/** Leave this much of the invocation for logging and the alert after the agent call gives up. */
const REPLY_MARGIN_MS = 5_000;
/** Without a Lambda context (local runs): wait this long for the agent. */
const DEFAULT_WAIT_MS = 10 * 60_000;

/**
 * The scheduled backup of one cluster: choose a standby from the decision log and the latest
 * observations, and ask its agent for a base backup into the archive. Waits for the answer
 * until just before the invocation ends; the agent finishes a backup whether or not anyone
 * still waits for it. Outcomes are logged; failures also go to the alert topic when given.
 */
export async function runScheduledBackup(cp: ControlPlane, cluster: string, deps: ScheduledBackupDeps = {}): Promise<ScheduledBackupOutcome> {
  const outcome = await attempt(cp, cluster, deps);
  if (outcome.ok) {
    cp.log({ level: 'info', msg: 'scheduled backup taken', cluster, node: outcome.node, backupId: outcome.backupId });
    return outcome;
  }
  cp.log({ level: outcome.unconfirmed ? 'warn' : 'error', msg: outcome.unconfirmed ? 'scheduled backup unconfirmed' : 'scheduled backup failed', cluster, node: outcome.node, reason: outcome.reason });
  if (deps.alert) {
    const what = outcome.unconfirmed ? `scheduled backup on ${outcome.node} not confirmed in time` : 'scheduled backup failed';
    const sent = await deps.alert({
      subject: `[pgvigil ${outcome.unconfirmed ? 'INFO' : 'WARNING'}] ${cluster}: ${what}`,
      body: [`${what}.`, '', `Cluster:  ${cluster}`, `Node:     ${outcome.node ?? 'none chosen'}`, `Reason:   ${outcome.reason}`, '', 'Look further: pgvigil backups --archive s3://<ArchiveBucketName>/'].join('\n'),
      attributes: { cluster, severity: outcome.unconfirmed ? 'info' : 'warning', event: 'ScheduledBackup' },
    });
    if (!sent.ok) cp.log({ level: 'error', msg: 'alert not published', cluster, reason: sent.reason });
  }
  return outcome;
}

async function attempt(cp: ControlPlane, cluster: string, deps: ScheduledBackupDeps): Promise<ScheduledBackupOutcome> {
  const fail = (reason: string, node: string | null = null): ScheduledBackupOutcome => ({ ok: false, cluster, node, reason, unconfirmed: false });
  const loaded = await loadState(cp.store, cluster);
  if (!loaded.ok) return fail(loaded.reason);
  const now = cp.clock();
  const read = await latestObservations(cp.store, cluster, now - OBSERVATION_WINDOW_MS);
  if (!read.ok) return fail(`observations of ${cluster} can't be read: ${read.reason}`);
  const spec = loaded.state.spec;
  const choice = chooseBackupStandby(loaded.state, spec ? viewNodes(spec, read.observations, now) : new Map());
  if (!choice.ok) return fail(choice.reason);
  const node = choice.node.name;
  cp.log({ level: 'info', msg: 'scheduled backup', cluster, node, why: choice.why });

  const timeoutMs = deps.remainingMs ? Math.max(1_000, deps.remainingMs() - REPLY_MARGIN_MS) : DEFAULT_WAIT_MS;
  const r = await callAgent(agentTargetOf(spec?.cluster ?? cluster, choice.node, cp.agentCa), cp.agentKey, 'backup', {}, { timeoutMs });
  if (r.ok) return { ok: true, cluster, node, backupId: r.id, reason: `${r.reason} (${choice.why})` };
  if (/no answer within/.test(r.reason)) {
    return {
      ok: false,
      cluster,
      node,
      unconfirmed: true,
      reason: `${r.reason}: a backup the agent started keeps running after the caller leaves; pgvigil backups shows it once complete`,
    };
  }
  return fail(`${node}: ${r.reason}`, node);
}
