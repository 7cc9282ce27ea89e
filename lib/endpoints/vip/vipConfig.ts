import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { parseWith, type Parsed } from '../../domain/parse.ts';

/**
 * The writer VIP on a Linux host (on premises): an IPv4 address the primary's agent adds to
 * its own interface. Every node of the cluster must sit on the VIP's subnet (one L2 segment),
 * or a gratuitous ARP can't move it.
 */
export const VipConfig = z
  .object({
    address: z.string({ error: 'give the writer VIP as an IPv4 address, e.g. 10.0.0.100' }).refine(isIPv4, 'give the writer VIP as an IPv4 address, e.g. 10.0.0.100'),
    prefix: z
      .number({ error: "give the prefix length of the VIP's subnet, e.g. 24" })
      .int("give the prefix length of the VIP's subnet as a whole number, e.g. 24")
      .min(1, 'the prefix length is between 1 and 32, e.g. 24')
      .max(32, 'the prefix length is between 1 and 32, e.g. 24'),
    // Kernel interface names: at most 15 characters, no '/' or spaces; no leading '-' so ip never reads it as an option.
    interface: z
      .string({ error: 'give the network interface that carries the VIP, e.g. eth0' })
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/, 'give a network interface name (at most 15 letters, digits, _ . -), e.g. eth0'),
  })
  .strict();
export type VipConfig = z.infer<typeof VipConfig>;

export function parseVipConfig(input: unknown): Parsed<VipConfig> {
  return parseWith(VipConfig, input, 'vip');
}
