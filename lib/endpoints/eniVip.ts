import { isIPv4 } from 'node:net';
import {
  AssignPrivateIpAddressesCommand,
  CreateTagsCommand,
  DescribeNetworkInterfacesCommand,
  type EC2Client,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import type { EndpointChange, EndpointDriver, EndpointResult } from './driver.ts';
import { parseEndpointChange } from './proxyRoutes.ts';

/** The tag on the interface holding the VIP: the term that put it there. */
export const vipTermTag = 'pgvigil:vip-term';

export interface EniVipOptions {
  client: EC2Client;
  /** The node this agent runs on: only the writer's own agent moves the VIP. */
  node: string;
  /** This host's network interface, in the VIP's subnet. */
  networkInterfaceId: string;
  /** The writer VIP: a secondary private IP of the subnet every node shares. */
  vip: string;
  log?: (entry: Record<string, unknown>) => void;
}

function holds(eni: NetworkInterface, ip: string): boolean {
  return (eni.PrivateIpAddresses ?? []).some((a) => a.PrivateIpAddress === ip);
}

function termOf(eni: NetworkInterface | undefined): number {
  const value = eni?.TagSet?.find((t) => t.Key === vipTermTag)?.Value;
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : -1;
}

/**
 * The writer endpoint as an ENI secondary private IP (a VIP). In a VPC a gratuitous ARP
 * moves nothing: the address follows the interface it is assigned to, so the new
 * primary's agent assigns it to its own interface with AllowReassignment, which takes it
 * from the old primary's. Describe first (idempotent), tag the interface with the term
 * after (term-tagged across agent restarts), and never act on an older term.
 * The OS on the host still needs the address on its interface (amazon-ec2-net-utils on
 * Amazon Linux 2023 adds assigned secondary addresses itself).
 */
export function createEniVipDriver(opts: EniVipOptions): EndpointDriver {
  const log = opts.log ?? (() => {});
  let lastTerm = -1;

  async function apply(change: EndpointChange): Promise<EndpointResult> {
    if (change.term < lastTerm) return { ok: true, applied: false };
    // Only the writer's agent acts; on the others the reassignment takes the VIP away.
    if (change.writer?.name !== opts.node) return { ok: true, applied: false };

    const found = await opts.client.send(
      new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'addresses.private-ip-address', Values: [opts.vip] }] }),
    );
    const holder = (found.NetworkInterfaces ?? []).find((eni) => holds(eni, opts.vip));
    const holderTerm = termOf(holder);
    if (holderTerm > change.term) {
      log({ event: 'endpoints.vip.stale', term: change.term, holderTerm, holder: holder?.NetworkInterfaceId });
      lastTerm = Math.max(lastTerm, holderTerm);
      return { ok: true, applied: false };
    }
    const ours = holder?.NetworkInterfaceId === opts.networkInterfaceId;
    if (ours && holderTerm === change.term) {
      lastTerm = change.term;
      return { ok: true, applied: false };
    }
    if (!ours) {
      await opts.client.send(
        new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: opts.networkInterfaceId, PrivateIpAddresses: [opts.vip], AllowReassignment: true }),
      );
    }
    await opts.client.send(new CreateTagsCommand({ Resources: [opts.networkInterfaceId], Tags: [{ Key: vipTermTag, Value: String(change.term) }] }));
    lastTerm = change.term;
    log({ event: 'endpoints.vip.applied', term: change.term, vip: opts.vip, from: holder?.NetworkInterfaceId ?? null, to: opts.networkInterfaceId });
    return { ok: true, applied: true };
  }

  return {
    kind: 'eni-vip',
    async apply(input: EndpointChange): Promise<EndpointResult> {
      if (!isIPv4(opts.vip)) return { ok: false, reason: `eni-vip: vip ${JSON.stringify(opts.vip)} is not an IPv4 address: give the secondary private IP to move` };
      const parsed = parseEndpointChange(input);
      if (!parsed.ok) return parsed;
      try {
        return await apply(parsed.value);
      } catch (e) {
        const err = e as Error;
        return { ok: false, reason: `eni-vip: ${err.name}: ${err.message} (interface ${opts.networkInterfaceId}, vip ${opts.vip})` };
      }
    },
    async close() {},
  };
}
