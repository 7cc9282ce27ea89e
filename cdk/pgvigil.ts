import { Construct } from 'constructs';
import { CfnOutput, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { parseClusterSpec, type ClusterSpec, type ClusterSpecInput } from '../lib/domain/spec.ts';
import { createStoreTable } from './table.ts';
import { AlertTopic } from './alertTopic.ts';
import { PgVigilNetwork, type FlowLogChoice, type InterfaceEndpointName } from './network.ts';
import { grantStoreAccess } from './storeAccess.ts';
import { writerConnectStrings } from '../lib/client/connectStrings.ts';
import { resolveProbeCadence } from './probeCadence.ts';
import { PgVigilFunctions } from './functions.ts';
import type { ProbeCadence } from './functions.ts';
import { PgVigilAccess } from './access.ts';
import { PgVigilAgentKeys } from './agentKeys.ts';
import { PgVigilAlarms } from './alarms.ts';
import { WriterReaderZone, type ZoneProps } from './zone.ts';
import { PgVigilDbHosts } from './dbHosts.ts';
import { PgVigilHostSecrets } from './hostSecrets.ts';
import { PgVigilArchive, defaultBackupRetentionDays, defaultBackupSchedule } from './archive.ts';
import { demoClusterSpec } from './demoSpec.ts';
import { suppressWithReasons } from './nagSuppressions.ts';
import { reservedConcurrencyFor } from './reservedConcurrency.ts';

export interface PgVigilProps {
  /** The VPC where the database hosts live; a demo VPC (3 AZs, one NAT gateway) when absent. */
  vpc?: ec2.IVpc;
  /** Subnets for the Lambdas and VPC endpoints; default: the VPC's private subnets with egress. */
  subnets?: ec2.SubnetSelection;
  /** The database hosts' security group: pgvigil adds ingress from its Lambdas to the PostgreSQL and agent ports. */
  dbSecurityGroup?: ec2.ISecurityGroup;
  /** The clusters to watch (the spec file's content); default with the demo VPC: a 3-node demo cluster. */
  clusters?: ClusterSpecInput[];
  alertEmails?: string[];
  alertHttpsEndpoints?: string[];
  /** Private hosted zone for the writer/reader records; none: no Route 53 endpoint. */
  hostedZone?: ZoneProps;
  /** CLI users/roles that may send operator commands. The OperatorPolicy output can be attached instead. */
  operators?: iam.IGrantable[];
  /** The database hosts' subnets, for the gateway endpoints' routes; default: `subnets`. */
  hostSubnets?: ec2.SubnetSelection;
  /** DynamoDB and S3 gateway endpoints (free), routed in pgvigil's subnets only. Default true; false if the VPC routes them already. */
  gatewayEndpoints?: boolean;
  /**
   * Interface endpoints to add, each its own choice; default none. Their private DNS serves the
   * whole VPC: see README "Networking" before adding one to a VPC with other workloads.
   */
  interfaceEndpoints?: InterfaceEndpointName[];
  /** Demo VPC flow logs: 'reject' (default), 'all' (costs with the probe's traffic) or 'off'. */
  flowLogs?: FlowLogChoice;
  /** A CloudWatch dashboard (3 USD a month beyond an account's first three). Default false. */
  dashboard?: boolean;
  /**
   * How the probe runs (README "Where detection runs"): 'on-wake' (once a minute until settled,
   * and whenever an agent wakes it) or 'always' (every probe interval of the month, about 4.4 USD).
   * Default: 'on-wake' when every cluster replicates synchronously, else 'always' (async mode's
   * loss bound needs the primary's last LSN from just before it failed).
   */
  probeCadence?: ProbeCadence;
  /** S3 Object Lock (governance, backupRetentionDays) on the archive. Default false. */
  archiveObjectLock?: boolean;
  /** Build the database hosts too (EC2, one per node of the single cluster). Default false. */
  dbHosts?: boolean;
  /** With dbHosts: the hosts' AMI (Amazon Linux 2023 arm64), pinned; required, see README "Database hosts". */
  dbHostAmi?: string;
  /**
   * Days to keep WAL segments and base backups in the archive bucket; older ones expire.
   * Keep it longer than the time between two backups, or a restore point can lose its base.
   * Default 35.
   */
  backupRetentionDays?: number;
  /**
   * When to take a base backup of each cluster (from a standby, by its agent), as an
   * EventBridge schedule in UTC. Default: daily at 03:00 UTC. null: no scheduled backups
   * (`pgvigil backup` still takes one on demand).
   */
  backupSchedule?: events.Schedule | null;
  /**
   * Put each decision event on the account's default EventBridge bus (`source: pgvigil`,
   * `detail-type` the event type), so rules can start Lambda, Step Functions or a pager from it.
   * Default true; false: SNS alerts only, and notify gets no events:PutEvents.
   */
  decisionEvents?: boolean;
  /**
   * Reserve concurrency for the four handlers (cdk/reservedConcurrency.ts: act a node's worth per
   * node and one per cluster, decide three more, probe 3, notify 2), so other functions of the
   * account can't starve a failover. It is also their cap, and Lambda refuses it when the account's
   * unreserved concurrency would drop below 100. Default false.
   */
  reservedConcurrency?: boolean;
}

function parseClusters(inputs: ClusterSpecInput[]): ClusterSpec[] {
  if (inputs.length === 0) throw new Error('PgVigil: clusters: list at least one cluster spec');
  const specs = inputs.map((input, i) => {
    const parsed = parseClusterSpec(input);
    if (!parsed.ok) throw new Error(`PgVigil: clusters[${i}]: ${parsed.reason}`);
    return parsed.value;
  });
  const names = specs.map((s) => s.cluster);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`PgVigil: clusters: "${dup}" appears twice: give every cluster its own name`);
  return specs;
}

/** pgvigil's control plane on AWS: store, handlers, alerts, endpoints, and optionally the hosts. */
export class PgVigil extends Construct {
  readonly network: PgVigilNetwork;
  readonly clusters: ClusterSpec[];
  readonly functions: PgVigilFunctions;
  readonly access: PgVigilAccess;
  readonly alarms: PgVigilAlarms;
  /** One agent key per node (cdk/agentKeys.ts). */
  readonly agentKeys: PgVigilAgentKeys;
  readonly alertTopic: AlertTopic;
  readonly dbHosts?: PgVigilDbHosts;
  /** Without dbHosts, watching one cluster: the SSM parameters its hand-installed hosts' bootstrap reads. */
  readonly hostSecrets?: PgVigilHostSecrets;
  readonly archive: PgVigilArchive;
  /** false for the demo without hosts: the probe, tick and backup schedules are deployed disabled. */
  readonly watching: boolean;
  readonly probeCadence: ProbeCadence;

  constructor(scope: Construct, id: string, props: PgVigilProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    // The demo spec is derived from the demo VPC, so it is only known once the network exists.
    const provisional = props.clusters ? parseClusters(props.clusters) : undefined;
    const ports = (specs: ClusterSpec[]) => [...new Set(specs.flatMap((s) => s.nodes.flatMap((n) => [n.port, Number(new URL(n.agent).port || 80)])))];

    this.network = new PgVigilNetwork(this, 'Network', {
      vpc: props.vpc,
      subnets: props.subnets,
      dbSecurityGroup: props.dbSecurityGroup,
      dbPorts: provisional ? ports(provisional) : [5432, 8008],
      ...(props.hostSubnets ? { hostSubnets: props.hostSubnets } : {}),
      gatewayEndpoints: props.gatewayEndpoints ?? true,
      interfaceEndpoints: props.interfaceEndpoints ?? [],
      flowLogs: props.flowLogs ?? 'reject',
    });
    if (!provisional && !this.network.isDemoVpc) throw new Error('PgVigil: clusters: give the cluster specs of the databases in your VPC');
    this.clusters = provisional ?? parseClusters([demoClusterSpec(this.network.vpc)]);
    // The demo spec's addresses hold nothing until dbHosts builds the hosts: probing them would
    // find every node down, write it, wake decide and alarm, for ever. So its schedules stay off.
    this.watching = !(this.network.isDemoVpc && !props.clusters && !props.dbHosts);
    this.probeCadence = resolveProbeCadence(this.clusters, props.probeCadence);

    const table = createStoreTable(this, 'Store');
    // The archive is built first: it makes the stack's one key (cdk/controlKey.ts), which the alert topic and the SSM parameters share.
    this.archive = new PgVigilArchive(this, 'Archive', {
      objectLock: props.archiveObjectLock ?? false,
      retentionDays: props.backupRetentionDays ?? defaultBackupRetentionDays,
    });
    this.agentKeys = new PgVigilAgentKeys(this, 'AgentKeys', { clusters: this.clusters, key: this.archive.key });
    this.alertTopic = new AlertTopic(this, 'Alerts', { key: this.archive.key, alertEmails: props.alertEmails ?? [], alertHttpsEndpoints: props.alertHttpsEndpoints ?? [] });
    const zone = props.hostedZone ? new WriterReaderZone(this, 'Zone', props.hostedZone) : undefined;

    this.functions = new PgVigilFunctions(this, 'Functions', {
      network: this.network,
      table,
      topic: this.alertTopic.topic,
      agentKeys: this.agentKeys,
      clustersJson: JSON.stringify(this.clusters),
      zone,
      decisionEvents: props.decisionEvents ?? true,
      schedulesEnabled: this.watching,
      probeCadence: this.probeCadence,
      ...(props.reservedConcurrency ? { reservedConcurrency: reservedConcurrencyFor(this.clusters) } : {}),
    });
    grantStoreAccess(table, this.functions, this.clusters);
    this.access = new PgVigilAccess(this, 'Access', {
      table,
      decide: this.functions.decide,
      agentKeys: this.agentKeys,
      clusters: this.clusters,
      operators: props.operators ?? [],
      ...(this.network.gatewayVpcId ? { sourceVpcId: this.network.gatewayVpcId } : {}),
    });
    this.archive.grantAgents(this.access.agentPolicy, this.network.gatewayVpcId);
    this.archive.grantOperators(this.access.operatorPolicy);
    this.archive.scheduleBackups({
      schedule: props.backupSchedule === undefined ? defaultBackupSchedule() : props.backupSchedule,
      decide: this.functions.decide,
      clusterNames: this.clusters.map((c) => c.cluster),
      enabled: this.watching,
    });
    // The alarms count this stack's metrics only: every handler tags its metrics with the stack's name.
    const deployment = stack.stackName;
    for (const fn of this.functions.node.findAll().filter((c): c is lambda.Function => c instanceof lambda.Function)) fn.addEnvironment('PGVIGIL_DEPLOYMENT', deployment);
    this.alarms = new PgVigilAlarms(this, 'Alarms', { functions: this.functions, table, topic: this.alertTopic.topic, deployment, dashboard: props.dashboard ?? false, watching: this.watching });

    if (props.dbHosts) {
      if (this.clusters.length !== 1) throw new Error('PgVigil: dbHosts: builds the hosts of exactly one cluster; deploy one stack per cluster');
      if (!props.dbHostAmi) {
        throw new Error(
          'PgVigil: dbHosts: give the hosts\' AMI, pinned so no deploy replaces them: -c dbHostAmi=$(aws ssm get-parameter --name /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64 --query Parameter.Value --output text)',
        );
      }
      this.dbHosts = new PgVigilDbHosts(this, 'DbHosts', {
        vpc: this.network.vpc,
        cluster: this.clusters[0]!,
        securityGroup: this.network.dbSecurityGroup,
        agentRole: (node) => this.access.agentRoleOf(this.clusters[0]!.cluster, node),
        agentPolicy: this.access.agentPolicy,
        tableName: table.tableName,
        agentKeyParameterNameOf: (node) => this.agentKeys.parameterNameOf(this.clusters[0]!.cluster, node),
        parameterProvider: this.agentKeys.provider,
        region: stack.region,
        archiveBucketName: this.archive.bucket.bucketName,
        ami: props.dbHostAmi,
      });
      this.wireHostSecrets(this.dbHosts.secrets, this.clusters[0]!.cluster);
      // The agents on the hosts talk to each other (replication, agent API).
      for (const port of ports(this.clusters)) {
        this.network.dbSecurityGroup.addIngressRule(this.network.dbSecurityGroup, ec2.Port.tcp(port), `pgvigil nodes to each other on ${port}`);
      }
    }

    // Hosts set up by hand (README "Manual install") run the same bootstrap, which reads these
    // parameters: without them the probe would log in as the superuser without TLS, which a
    // bootstrapped host refuses. One watched cluster only, as with dbHosts.
    if (!props.dbHosts && this.watching && this.clusters.length === 1) {
      const spec = this.clusters[0]!;
      // 'HostParameters', not the 'HostSecrets' the secrets had: CloudFormation cannot change a logical id's type.
      this.hostSecrets = new PgVigilHostSecrets(this, 'HostParameters', { cluster: spec.cluster, provider: this.agentKeys.provider });
      this.hostSecrets.grantHosts(this.access.agentPolicy, this.access.agentRoleOf(spec.cluster, spec.nodes[0]!.name));
      this.wireHostSecrets(this.hostSecrets, spec.cluster);
      const name = (id: string, value: string, what: string) => new CfnOutput(this, id, { value, description: `the bootstrap config's ${what}: an SSM SecureString parameter's name` });
      const names = this.hostSecrets.names;
      name('MonitorPasswordParameterName', names.monitor, "passwords.monitor.parameter (pgvigil_monitor's password)");
      name('ReplicationPasswordParameterName', names.replication, "passwords.replication.parameter (the replication role's password)");
      name('ClusterCaParameterName', names.ca, 'ca.parameter (the cluster CA, put by the first host)');
      name('ClusterCaCertParameterName', names.caCert, 'ca.certParameter (the CA certificate, for the probe, act and decide)');
      new CfnOutput(this, 'ParameterKeyArn', { value: this.hostSecrets.key, description: "the bootstrap config's ca.keyId: the stack key the CA and its certificate are put under" });
    }

    const out = (name: string, value: string, description: string) => new CfnOutput(this, name, { value, description });
    out('TableName', table.tableName, 'the store (PGVIGIL_TABLE)');
    out('DecideFunctionName', this.functions.decide.functionName, 'operator commands: pgvigil --aws-function <this>');
    out('DecideFunctionArn', this.functions.decide.functionArn, 'operator commands are Lambda invokes of this function');
    out('OperatorPolicyArn', this.access.operatorPolicy.managedPolicyArn, 'attach to the users or roles that run the pgvigil CLI');
    out('AlertTopicArn', this.alertTopic.topic.topicArn, 'subscribe more endpoints here');
    // The fastest way to the writer needs no control-plane call: clients try every node (README: Connecting).
    for (const spec of this.clusters) {
      const connect = writerConnectStrings(spec);
      out(`WriterConninfo${spec.cluster.replace(/[^A-Za-z0-9]/g, '')}`, connect.libpq, `${spec.cluster}'s writer for libpq clients: every node, the writable one taken (JDBC: ${connect.jdbc})`);
    }
    if (zone) out('WriterDnsName', zone.writerName, 'the writer by DNS (Route 53, TTL 5 s): the fallback for clients that take one host');
    out('AgentKeyParameterPrefix', this.agentKeys.prefix, "each node's agent key is the SSM SecureString parameter <prefix><cluster>/<node>; its host alone reads it (README: rotating the agent keys)");
    for (const [key, profile] of this.access.agentInstanceProfiles) {
      out(`AgentInstanceProfile${key.replace(/[^A-Za-z0-9]/g, '')}`, profile.instanceProfileName, `attach to the host of ${key} only: it may renew that node's lease and no other`);
    }
    out('ArchiveBucketName', this.archive.bucket.bucketName, 'WAL archive and base backups: pgvigil backups --archive s3://<this>/');
    if (this.alarms.dashboard) out('DashboardName', this.alarms.dashboard.dashboardName, 'CloudWatch dashboard');
    out(
      'Watching',
      this.watching ? this.clusters.map((c) => `${c.cluster} (${c.nodes.length} nodes)`).join(', ') : 'nothing',
      this.watching
        ? 'the clusters the control plane probes'
        : 'demo without database hosts: no host holds the demo addresses, so probing, the decide tick and backups are off (their schedules are disabled); redeploy with -c dbHosts=true -c dbHostAmi=ami-... or -c spec=clusters.json to watch a cluster',
    );

    suppressWithReasons(this);
  }

  /** The probe logs in with the monitoring password and checks nodes against the CA certificate; act and decide check the agents' HTTPS certificates against it (never the CA key, denied to all three). */
  private wireHostSecrets(secrets: PgVigilHostSecrets, cluster: string): void {
    secrets.grantProbe(this.functions.probe);
    for (const fn of [this.functions.act, this.functions.decide]) secrets.grantCaCert(fn);
    // Every other cluster's hosts (a stack watching one cluster has none today): their SSM core policy would read these.
    secrets.denyHosts(this.clusters.filter((c) => c.cluster !== cluster).flatMap((c) => c.nodes.map((n) => this.access.agentRoleOf(c.cluster, n.name))));
  }
}
