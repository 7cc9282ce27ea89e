import { Construct } from 'constructs';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RemovalPolicy } from 'aws-cdk-lib';

/**
 * The interface endpoints pgvigil can add, each its own choice (none by default): SSM (the agent
 * keys, the hosts' passwords, the CA and its certificate, for the probe, act, decide and the
 * hosts), SNS (alerts), Lambda (decide hands intents to act and act reports to decide, by invoke).
 * Route 53 has none: its API needs egress. secretsmanager is still accepted, so a context that
 * names it (deployed before the host secrets moved to SSM) still synthesizes and keeps its
 * endpoint, but pgvigil no longer calls Secrets Manager: drop it unless other workloads use it.
 */
export const interfaceEndpointNames = ['secretsmanager', 'ssm', 'sns', 'lambda'] as const;
export type InterfaceEndpointName = (typeof interfaceEndpointNames)[number];

/** VPC flow logs: none, rejected connections only (the default: small, what a security review asks for), or all traffic. */
export type FlowLogChoice = 'off' | 'reject' | 'all';

export interface NetworkProps {
  /** Where the database hosts live; a demo VPC is created when absent. */
  vpc?: ec2.IVpc;
  /** Subnets for the Lambdas and interface endpoints; default: the VPC's private subnets. */
  subnets?: ec2.SubnetSelection;
  /** The database hosts' subnets (for the gateway endpoints' routes); default: the Lambdas' subnets. */
  hostSubnets?: ec2.SubnetSelection;
  /** The database hosts' security group: the Lambdas get ingress to PostgreSQL and agent ports. */
  dbSecurityGroup?: ec2.ISecurityGroup;
  /** PostgreSQL and agent ports the control plane must reach. */
  dbPorts: number[];
  /**
   * DynamoDB and S3 gateway endpoints (free), routed only in pgvigil's subnets. Default true;
   * false when the VPC already routes them (a route table takes one route per prefix list).
   */
  gatewayEndpoints: boolean;
  /**
   * Interface endpoints to add (about 7.30 USD a month per AZ each). Their private DNS takes the
   * service's name over for the whole VPC, so in a VPC with other workloads add one only if it
   * has none and every other workload may use it. Default none (the VPC's NAT serves).
   */
  interfaceEndpoints: readonly InterfaceEndpointName[];
  /** Only for the demo VPC. Default 'reject'. */
  flowLogs: FlowLogChoice;
}

/** The demo VPC's address plan; the demo spec and the db hosts use fixed IPs inside it. */
export const demoVpcCidr = '10.42.0.0/16';

const interfaceServices: Record<InterfaceEndpointName, ec2.InterfaceVpcEndpointAwsService> = {
  secretsmanager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
  sns: ec2.InterfaceVpcEndpointAwsService.SNS,
  lambda: ec2.InterfaceVpcEndpointAwsService.LAMBDA,
};
const endpointIds: Record<InterfaceEndpointName, string> = { secretsmanager: 'SecretsManager', ssm: 'Ssm', sns: 'Sns', lambda: 'Lambda' };

/**
 * The network the control plane runs in: the Lambdas' security group, ingress to the database
 * hosts, the gateway endpoints (DynamoDB for the store, S3 for the archive, so WAL never goes
 * through NAT), and the interface endpoints asked for.
 */
export class PgVigilNetwork extends Construct {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly lambdaSecurityGroup: ec2.SecurityGroup;
  readonly dbSecurityGroup: ec2.ISecurityGroup;
  readonly isDemoVpc: boolean;
  /** Set when the gateway endpoints are pgvigil's: store and archive requests then carry aws:SourceVpc. */
  readonly gatewayVpcId?: string;
  readonly interfaceEndpoints: ReadonlyMap<InterfaceEndpointName, ec2.InterfaceVpcEndpoint>;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    this.isDemoVpc = props.vpc === undefined;
    this.vpc = props.vpc ?? this.demoVpc(props.flowLogs);
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

    if (props.gatewayEndpoints) {
      // Routes only in the route tables of pgvigil's subnets: never edit tables other stacks own.
      const subnets = [this.subnets, ...(props.hostSubnets ? [props.hostSubnets] : [])];
      this.vpc.addGatewayEndpoint('DynamoDb', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets });
      this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3, subnets });
      this.gatewayVpcId = this.vpc.vpcId;
    }
    const endpoints = new Map<InterfaceEndpointName, ec2.InterfaceVpcEndpoint>();
    for (const name of new Set(props.interfaceEndpoints)) {
      // Reachable from pgvigil's Lambdas and the database hosts (agents fetch their key), nothing else.
      const endpoint = this.vpc.addInterfaceEndpoint(endpointIds[name], {
        service: interfaceServices[name],
        subnets: this.subnets,
        privateDnsEnabled: true,
        open: false,
      });
      endpoint.connections.allowDefaultPortFrom(this.lambdaSecurityGroup, 'pgvigil Lambdas');
      endpoint.connections.allowDefaultPortFrom(this.dbSecurityGroup, 'pgvigil database hosts');
      endpoints.set(name, endpoint);
    }
    this.interfaceEndpoints = endpoints;
  }

  private demoVpc(flowLogs: FlowLogChoice): ec2.Vpc {
    const trafficType = flowLogs === 'all' ? ec2.FlowLogTrafficType.ALL : ec2.FlowLogTrafficType.REJECT;
    const flowLogGroup =
      flowLogs === 'off' ? undefined : new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    return new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(demoVpcCidr),
      maxAzs: 3,
      // One NAT gateway, for the demo database hosts (packages, SSM, their key) and the
      // control plane's calls to Route 53, SNS and Secrets Manager; a VPC of your own brings its egress.
      natGateways: 1,
      // The default-SG lockdown is a custom-resource Lambda; the demo never uses the default SG.
      restrictDefaultSecurityGroup: false,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
      ],
      ...(flowLogGroup ? { flowLogs: { flows: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup), trafficType } } } : {}),
    });
  }
}
