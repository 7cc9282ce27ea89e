// The bill's fixed items, read from the stack as it would deploy: pgvigil's own resources in a
// VPC of yours (the goal's configuration: no NAT gateway or interface endpoint of pgvigil's),
// or with the options the caller passes. Counted from the synthesized template, so a new
// endpoint, key or alarm shows up here without anyone remembering to add it.
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { PgVigil, type PgVigilProps } from '../../cdk/pgvigil.ts';
import type { ClusterSpecInput } from '../../lib/domain/spec.ts';
import { awsPrices as price } from './awsPrices.ts';

const HOURS_PER_MONTH = 730;

export interface FixedItem {
  name: string;
  count: number;
  usd: number;
  detail: string;
}

type Resource = { Type: string; Properties?: Record<string, any> };

/** pgvigil in a 3-AZ VPC that is not its own (its NAT and any endpoints it has are the VPC owner's). */
export function fixedItems(cluster: ClusterSpecInput, props: Omit<PgVigilProps, 'vpc' | 'clusters'> = {}): FixedItem[] {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'CostBench', { env: { account: '123456789012', region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'YourVpc', { maxAzs: 3, natGateways: 1, restrictDefaultSecurityGroup: false });
  const pgvigil = new PgVigil(stack, 'PgVigil', { ...props, vpc, clusters: [cluster] });
  // Logical ids start with the construct path: pgvigil's own resources are PgVigil…, the VPC's YourVpc….
  const resources = Object.entries(app.synth().getStackByName(stack.stackName).template.Resources as Record<string, Resource>)
    .filter(([id]) => id.startsWith('PgVigil'))
    .map(([, r]) => r);
  const ofType = (type: string) => resources.filter((r) => r.Type === type);

  const interfaceAzs = ofType('AWS::EC2::VPCEndpoint')
    .filter((r) => r.Properties?.['VpcEndpointType'] === 'Interface')
    .reduce((n, r) => n + (r.Properties?.['SubnetIds']?.length ?? 0), 0);
  const nats = ofType('AWS::EC2::NatGateway').length;
  const keys = ofType('AWS::KMS::Key').length;
  const secrets = ofType('AWS::SecretsManager::Secret').length;
  // SSM parameters: the custom resource of the agent keys and the host parameters states its tier as
  // AWS::SSM::Parameter does. Standard ones are free; Intelligent-Tiering may make an advanced one, so it is counted as one.
  const parameterTiers = [...ofType('AWS::SSM::Parameter'), ...ofType('Custom::PgVigilAgentKeyParameter'), ...ofType('Custom::PgVigilHostParameter')].map((r) => String(r.Properties?.['Tier'] ?? 'Standard'));
  const advancedParameters = parameterTiers.filter((t) => t !== 'Standard').length;
  const dashboards = ofType('AWS::CloudWatch::Dashboard').length;
  const flowLogs = ofType('AWS::EC2::FlowLog').length;
  const standardMetrics = pgvigil.alarms.specs.filter((s) => s.kind === 'metric').reduce((n, s) => n + s.metrics, 0);
  const insights = pgvigil.alarms.specs.filter((s) => s.kind === 'insights').length;

  return [
    { name: 'interface endpoints', count: interfaceAzs, usd: interfaceAzs * HOURS_PER_MONTH * price.fixed.perInterfaceEndpointAzHour, detail: `${interfaceAzs} endpoint-AZs` },
    { name: 'NAT gateways', count: nats, usd: nats * HOURS_PER_MONTH * (price.fixed.perNatGatewayHour + price.fixed.perPublicIpv4Hour), detail: `${nats} (with its public IPv4)` },
    { name: 'KMS keys', count: keys, usd: keys * price.fixed.perKmsKeyMonth, detail: `${keys} customer managed (the archive's, which the alert topic shares: cdk/controlKey.ts)` },
    { name: 'secrets', count: secrets, usd: secrets * price.fixed.perSecretMonth, detail: `${secrets} (the agent keys, the hosts' passwords and the cluster CA are SSM parameters)` },
    {
      name: 'SSM parameters: advanced',
      count: advancedParameters,
      usd: advancedParameters * price.fixed.perAdvancedParameterMonth,
      detail: `${advancedParameters} advanced; ${parameterTiers.length - advancedParameters} standard, free (the agent keys and the host parameters)`,
    },
    { name: 'alarms: metric', count: standardMetrics, usd: standardMetrics * price.cloudwatch.perAlarmMonth, detail: `${pgvigil.alarms.specs.filter((s) => s.kind === 'metric').length} alarms reading ${standardMetrics} metrics` },
    { name: 'alarms: Metrics Insights', count: insights, usd: insights * price.cloudwatch.perInsightsAlarmMonth, detail: `${insights} queries (one series each)` },
    { name: 'dashboard', count: dashboards, usd: dashboards * price.cloudwatch.perDashboardMonth, detail: dashboards ? 'beyond the account\'s 3 free' : 'off (option)' },
    { name: 'flow logs', count: flowLogs, usd: 0, detail: flowLogs ? 'volume priced with usage' : 'none: a VPC of yours keeps its own' },
  ];
}
