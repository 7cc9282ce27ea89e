import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Token } from 'aws-cdk-lib';
import type { ClusterSpecInput } from '../lib/domain/spec.ts';
import { hostInCidr } from './cidr.ts';

export const agentPort = 8008;

/**
 * A 3-node cluster spread over the demo VPC's private subnets (one per AZ: 2 in an
 * environment-agnostic stack, 3 when the region is known), at fixed
 * addresses, so the spec is known at synth and `-c dbHosts=true` builds hosts that match it.
 */
export function demoClusterSpec(vpc: ec2.IVpc): ClusterSpecInput {
  const subnets = vpc.privateSubnets;
  if (subnets.length === 0 || subnets.some((s) => Token.isUnresolved(s.ipv4CidrBlock))) {
    throw new Error('the demo cluster spec needs the demo VPC: pass -c spec=path.json for your own VPC');
  }
  const names = ['pg-a', 'pg-b', 'pg-c'];
  return {
    cluster: 'demo',
    nodes: names.map((name, i) => {
      const host = hostInCidr(subnets[i % subnets.length]!.ipv4CidrBlock, 10 + Math.floor(i / subnets.length));
      // HTTPS: the hosts' agents serve the channel with their bootstrap certificate (cdk/hostUserData.ts).
      return { name, host, port: 5432, agent: `https://${host}:${agentPort}` };
    }),
  };
}
