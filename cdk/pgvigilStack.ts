import type { Construct } from 'constructs';
import { Fn, Stack, Token, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { PgVigil, type PgVigilProps } from './pgvigil.ts';

export interface PgVigilStackProps extends StackProps, Omit<PgVigilProps, 'vpc' | 'subnets' | 'dbSecurityGroup'> {
  /** An existing VPC by id (a context lookup: needs env account/region); none: the demo VPC. */
  vpcId?: string;
  subnetIds?: string[];
  dbSecurityGroupId?: string;
}

/** The deployable stack: one PgVigil, with the VPC and security group looked up by id. */
export class PgVigilStack extends Stack {
  readonly pgvigil: PgVigil;

  constructor(scope: Construct, id: string, props: PgVigilStackProps = {}) {
    super(scope, id, props);
    const { vpcId, subnetIds, dbSecurityGroupId, ...rest } = props;
    const vpc = vpcId ? ec2.Vpc.fromLookup(this, 'Vpc', { vpcId }) : undefined;
    const subnets = subnetIds?.length ? { subnets: subnetIds.map((id, i) => ec2.Subnet.fromSubnetId(this, `Subnet${i}`, id)) } : undefined;
    const dbSecurityGroup = dbSecurityGroupId ? ec2.SecurityGroup.fromSecurityGroupId(this, 'DbSg', dbSecurityGroupId) : undefined;
    this.pgvigil = new PgVigil(this, 'PgVigil', { ...rest, vpc, subnets, dbSecurityGroup });
  }

  /**
   * Three zones, also when the stack is environment-agnostic (the CDK gives such a stack two),
   * so the demo puts one node in each and losing a zone leaves a quorum. Deploying the demo
   * therefore needs a region with at least three zones (CloudFormation fails on Fn::Select 2
   * otherwise); a stack with a known region keeps the CDK's lookup.
   */
  override get availabilityZones(): string[] {
    if (!Token.isUnresolved(this.region)) return super.availabilityZones;
    return [0, 1, 2].map((i) => Fn.select(i, Fn.getAzs()));
  }
}
