import { commandTail, runHostCommand } from './hostCommand.ts';
import { announceCommand, planPlace, planRemove, showCommand } from './vipCommands.ts';
import type { VipConfig } from './vipConfig.ts';

export type VipOutcome = { ok: true; changed: boolean; reason: string } | { ok: false; reason: string };
export type VipLog = (entry: { level: 'info' | 'warn' | 'error'; msg: string } & Record<string, unknown>) => void;

/** The interface's addresses as `ip -o -4 addr show` lists them, or why they can't be read. */
async function show(vip: VipConfig): Promise<{ ok: true; text: string } | { ok: false; reason: string }> {
  const r = await runHostCommand(showCommand(vip));
  if (r.missing) return { ok: false, reason: 'ip (iproute2) is not installed: install iproute2' };
  if (!r.ok) return { ok: false, reason: `ip addr show dev ${vip.interface}: ${commandTail(r)}` };
  return { ok: true, text: r.stdout };
}

/**
 * Add the VIP to the interface unless it is there already, then announce it with an
 * unsolicited ARP. The announcement is best effort and not awaited (arping takes a second
 * per packet): a promotion must not wait on it. Without it, neighbours find the new MAC
 * only when their ARP entry for the VIP expires.
 */
export async function placeVip(vip: VipConfig, log: VipLog): Promise<VipOutcome> {
  const listed = await show(vip);
  if (!listed.ok) return listed;
  const step = planPlace(vip, listed.text);
  let changed = false;
  if (step.kind === 'add') {
    const r = await runHostCommand(step.command);
    if (!r.ok) {
      // Someone added it between show and add: that is what we wanted.
      const again = await show(vip);
      if (!(again.ok && planPlace(vip, again.text).kind === 'present')) return { ok: false, reason: `ip addr add ${vip.address}/${vip.prefix} dev ${vip.interface}: ${commandTail(r)}` };
    } else {
      changed = true;
    }
  }
  announce(vip, log);
  return { ok: true, changed, reason: changed ? `added ${vip.address}/${vip.prefix} to ${vip.interface}` : `${vip.address} already on ${vip.interface}` };
}

/** Remove the VIP from the interface when it is there. */
export async function removeVip(vip: VipConfig): Promise<VipOutcome> {
  const listed = await show(vip);
  if (!listed.ok) return listed;
  const step = planRemove(vip, listed.text);
  if (step.kind === 'absent') return { ok: true, changed: false, reason: `${vip.address} not on ${vip.interface}` };
  const r = await runHostCommand(step.command);
  if (!r.ok) {
    const again = await show(vip);
    if (!(again.ok && planRemove(vip, again.text).kind === 'absent')) return { ok: false, reason: `ip addr del ${vip.address} dev ${vip.interface}: ${commandTail(r)}` };
  }
  return { ok: true, changed: r.ok, reason: r.ok ? `removed ${vip.address} from ${vip.interface}` : `${vip.address} already gone from ${vip.interface}` };
}

/** Whether the VIP is on the interface now. */
export async function holdsVip(vip: VipConfig): Promise<{ ok: true; held: boolean } | { ok: false; reason: string }> {
  const listed = await show(vip);
  return listed.ok ? { ok: true, held: planRemove(vip, listed.text).kind === 'del' } : listed;
}

function announce(vip: VipConfig, log: VipLog): void {
  void runHostCommand(announceCommand(vip), 10_000).then((r) => {
    if (r.missing) log({ level: 'warn', msg: 'arping is not installed: the VIP was not announced; neighbours learn it when their ARP entries expire (install iputils-arping)', vip: vip.address });
    else if (!r.ok) log({ level: 'warn', msg: 'arping failed: the VIP was not announced', vip: vip.address, reason: commandTail(r) });
    else log({ level: 'info', msg: 'VIP announced (unsolicited ARP)', vip: vip.address, interface: vip.interface });
  });
}
