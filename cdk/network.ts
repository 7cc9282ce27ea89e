import { Construct } from 'constructs';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RemovalPolicy } from 'aws-cdk-lib';

export interface NetworkProps {
  /** Where the database hosts live; a demo VPC is created when absent. */
  vpc?: ec2.IVpc;
  /** Subnets for the Lambdas and interface endpoints; default: the VPC's private subnets. */
  subnets?: ec2.SubnetSelection;
  /** The database hosts' security group: the Lambdas get ingress to PostgreSQL and agent ports. */
  dbSecurityGroup?: ec2.ISecurityGroup;
  /** PostgreSQL and agent ports the control plane must reach. */
  dbPorts: number[];
  /** false when the VPC already has these endpoints (their private DNS names would clash). */
  vpcEndpoints: boolean;
}

/** The demo VPC's address plan; the demo spec and the db hosts use fixed IPs inside it. */
export const demoVpcCidr = '10.42.0.0/16';

/**
 * The network the control plane runs in: the Lambdas' security group, ingress to the
 * database hosts, and VPC endpoints, since Lambdas in a VPC have no internet of their own.
 */
export class PgVigilNetwork extends Construct {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly lambdaSecurityGroup: ec2.SecurityGroup;
  readonly dbSecurityGroup: ec2.ISecurityGroup;
  readonly isDemoVpc: boolean;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    this.isDemoVpc = props.vpc === undefined;
    this.vpc = props.vpc ?? this.demoVpc();
    this.subnets = props.subnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };

    this.lambdaSecurityGroup = new ec2.SecurityGroup(this, 'LambdaSg', {
      vpc: this.vpc,
      description: 'pgvigil control-plane Lambdas',
      allowAllOutbound: true,
    });
    this.dbSecurityGroup =
      props.dbSecurityGroup ??
      new ec2.SecurityGroup(this, 'DbSg', { vpc: this.vpc, description: 'pgvigil database hosts', allowAllOutbound: true });
    for (const port of [...new Set(props.dbPorts)].sort((a, b) => a - b)) {
      this.dbSecurityGroup.addIngressRule(this.lambdaSecurityGroup, ec2.Port.tcp(port), `pgvigil control plane to port ${port}`);
    }

    if (props.vpcEndpoints) this.addEndpoints();
  }

  private demoVpc(): ec2.Vpc {
    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    return new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(demoVpcCidr),
      maxAzs: 3,
      // One NAT gateway: the demo hosts install packages, and Route 53's API has no VPC endpoint.
      natGateways: 1,
      // The default-SG lockdown is a custom-resource Lambda; the demo never uses the default SG.
      restrictDefaultSecurityGroup: false,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
      ],
      flowLogs: { all: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup), trafficType: ec2.FlowLogTrafficType.ALL } },
    });
  }

  private addEndpoints(): void {
    this.vpc.addGatewayEndpoint('DynamoDb', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
    const interfaces: Array<[string, ec2.InterfaceVpcEndpointAwsService]> = [
      ['Sns', ec2.InterfaceVpcEndpointAwsService.SNS],
      ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ['Lambda', ec2.InterfaceVpcEndpointAwsService.LAMBDA],
    ];
    for (const [name, service] of interfaces) {
      // Reachable from pgvigil's Lambdas and the database hosts (agents fetch their key), nothing else.
      const endpoint = this.vpc.addInterfaceEndpoint(name, { service, subnets: this.subnets, privateDnsEnabled: true, open: false });
      endpoint.connections.allowDefaultPortFrom(this.lambdaSecurityGroup, 'pgvigil Lambdas');
      endpoint.connections.allowDefaultPortFrom(this.dbSecurityGroup, 'pgvigil database hosts');
    }
  }
}
