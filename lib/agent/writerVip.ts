import { placeVip, removeVip } from '../endpoints/vip/linuxVip.ts';
import type { VipConfig } from '../endpoints/vip/vipConfig.ts';
import type { FenceMarker } from './fenceMarker.ts';
import type { PgServer } from '../postgres/pgServer.ts';
import { readServerState } from './serverState.ts';
import type { Log } from '../log.ts';

/** What an action reports about the VIP: absent from the result when no VIP is configured. */
export type VipReport = { vip?: { address: string; placed?: boolean; removed?: boolean; reason: string } };

/** The primary takes the writer address (a promotion, or a retried one). Never fails the action: the promotion stands. */
export async function placeWriterVip(vip: VipConfig | undefined, log: Log): Promise<VipReport> {
  if (!vip) return {};
  const r = await placeVip(vip, log);
  log({ level: r.ok ? 'info' : 'error', msg: r.ok ? 'writer VIP placed' : 'writer VIP NOT placed: clients of the VIP cannot reach this primary', vip: vip.address, reason: r.reason });
  return { vip: { address: vip.address, placed: r.ok, reason: r.reason } };
}

/** This node stops being the writer: the address goes first, so nobody connects to it while PostgreSQL stops. */
export async function dropWriterVip(vip: VipConfig | undefined, log: Log, why: string): Promise<VipReport> {
  if (!vip) return {};
  const r = await removeVip(vip);
  log({ level: r.ok ? 'info' : 'error', msg: r.ok ? 'writer VIP released' : 'writer VIP could NOT be released', vip: vip.address, why, reason: r.reason });
  return { vip: { address: vip.address, removed: r.ok, reason: r.reason } };
}

/**
 * At agent start: a host coming back (after a crash, a partition, a reboot that kept the
 * address) must not answer on the writer address unless it is, right now, a running primary
 * that isn't fenced. Fenced, stopped, or a standby → release it. A server that runs but
 * doesn't answer yet is left alone: we can't tell, and the control plane will decide.
 */
export async function releaseVipUnlessPrimary(vip: VipConfig | undefined, pg: PgServer, fence: FenceMarker, log: Log): Promise<void> {
  if (!vip) return;
  const marker = await fence.get();
  const state = marker ? null : await readServerState(pg);
  const why = marker
    ? `fenced at term ${marker.term}`
    : !state?.running
      ? 'PostgreSQL is not running here'
      : state.answering && state.inRecovery
        ? 'PostgreSQL here is a standby'
        : null;
  if (why) await dropWriterVip(vip, log, `agent start: ${why}`);
}
