import type { VipConfig } from './vipConfig.ts';

/** One program run with an argument array: never through a shell. */
export interface HostCommand {
  cmd: 'ip' | 'arping';
  args: string[];
}

/** Lists the interface's IPv4 addresses, one line each: `7: eth0    inet 10.0.0.100/24 scope global secondary eth0 …`. */
export function showCommand(vip: VipConfig): HostCommand {
  return { cmd: 'ip', args: ['-o', '-4', 'addr', 'show', 'dev', vip.interface] };
}

/**
 * The prefix the VIP is held with on the interface, or null when it isn't there. `ip addr del`
 * must name the prefix the address was added with, which may differ from the config's.
 */
export function heldPrefix(showOutput: string, address: string): number | null {
  for (const line of showOutput.split('\n')) {
    const m = /\binet (\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})\b/.exec(line);
    if (m && m[1] === address) return Number(m[2]);
  }
  return null;
}

export type PlaceStep = { kind: 'present'; prefix: number } | { kind: 'add'; command: HostCommand };
export type RemoveStep = { kind: 'absent' } | { kind: 'del'; command: HostCommand };

/** What placing the VIP needs, given what `ip addr show` said: nothing when it is already there. */
export function planPlace(vip: VipConfig, showOutput: string): PlaceStep {
  const prefix = heldPrefix(showOutput, vip.address);
  if (prefix !== null) return { kind: 'present', prefix };
  return { kind: 'add', command: { cmd: 'ip', args: ['-4', 'addr', 'add', `${vip.address}/${vip.prefix}`, 'dev', vip.interface] } };
}

/** What removing the VIP needs: nothing when it is not there. */
export function planRemove(vip: VipConfig, showOutput: string): RemoveStep {
  const prefix = heldPrefix(showOutput, vip.address);
  if (prefix === null) return { kind: 'absent' };
  return { kind: 'del', command: { cmd: 'ip', args: ['-4', 'addr', 'del', `${vip.address}/${prefix}`, 'dev', vip.interface] } };
}

/** Unsolicited (gratuitous) ARP: the neighbours' caches point the VIP at this host's MAC at once. */
export function announceCommand(vip: VipConfig): HostCommand {
  return { cmd: 'arping', args: ['-U', '-c', '2', '-I', vip.interface, vip.address] };
}
