import * as fs from 'node:fs';
import * as path from 'node:path';
import { Construct } from 'constructs';
import { AssetHashType, DockerImage, RemovalPolicy, Size, Stack, Tags, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { buildSync } from 'esbuild';
import type { ClusterSpec } from '../lib/domain/spec.ts';
import { agentEntry, agentEsbuildOptions } from './bundling.ts';
import { cidrContains } from './cidr.ts';
import { clusterTagKey } from './access.ts';
import { hostParameterPrefix, PgVigilHostSecrets } from './hostSecrets.ts';
import type { AgentKeyParameterProvider } from './agentKeyParameter.ts';
import { hostUserData } from './hostUserData.ts';

export interface DbHostsProps {
  vpc: ec2.IVpc;
  cluster: ClusterSpec;
  securityGroup: ec2.ISecurityGroup;
  /** Each node's own agent role (cdk/access.ts). */
  agentRole: (node: string) => iam.Role;
  /** What every agent holds; the asset read goes here. */
  agentPolicy: iam.ManagedPolicy;
  /** What the agent config on each host points at. */
  tableName: string;
  /** Each node's own agent key parameter's name (cdk/agentKeys.ts): its host reads it, no other. */
  agentKeyParameterNameOf: (node: string) => string;
  /** The stack's SecureString parameters' custom resource (cdk/agentKeyParameter.ts): it makes the hosts' parameters too. */
  parameterProvider: AgentKeyParameterProvider;
  region: string;
  /** The archive bucket: archive_command pushes WAL there, the backup action base backups. */
  archiveBucketName: string;
  /**
   * The hosts' AMI (Amazon Linux 2023, arm64), pinned so a deploy never replaces a host because
   * AWS published a newer image. `-c dbHostAmi=ami-…`; README: "Database hosts" gives the lookup.
   */
  ami: string;
  /** Size of each node's data volume (PostgreSQL's data directory), GiB. Default 20. */
  dataVolumeGiB?: number;
}

/** Where the data volume is mounted: PostgreSQL 15's home on Amazon Linux (data directory under it). */
export const dataMount = '/var/lib/pgsql';

/** One fixed image id: what `-c dbHostAmi` names, in every region the stack is deployed to. */
class PinnedImage implements ec2.IMachineImage {
  constructor(private readonly ami: string) {}
  getImage(): ec2.MachineImageConfig {
    return { imageId: this.ami, osType: ec2.OperatingSystemType.LINUX, userData: ec2.UserData.forLinux() };
  }
}

const agentMain = agentEntry;

/** The agent as one ESM file, bundled by local esbuild and shipped as an S3 asset. */
function agentAsset(scope: Construct): Asset {
  return new Asset(scope, 'AgentBundle', {
    path: path.dirname(agentMain),
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never used: local esbuild always succeeds or throws.
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22'),
      local: {
        tryBundle(outputDir: string) {
          if (!fs.existsSync(agentMain)) throw new Error(`dbHosts=true needs the agent entry ${agentMain}, which does not exist yet`);
          const { write: _write, ...options } = agentEsbuildOptions(agentMain);
          buildSync({ ...options, outfile: path.join(outputDir, 'agent.mjs') });
          return true;
        },
      },
    },
  });
}

/**
 * Optional database hosts (context dbHosts=true): one Graviton instance per node, each on
 * its own tagged network interface at the node's fixed address, PostgreSQL 15 and the
 * agent installed by user data, the agent run by systemd, which bootstraps the host into a
 * node before the agent starts (cdk/hostUserData.ts, lib/host/bootstrap.ts).
 */
export class PgVigilDbHosts extends Construct {
  readonly instances: ec2.Instance[] = [];
  /** The passwords and CA the hosts' bootstrap reads, SSM parameters (the probe function is granted the monitoring password by the stack). */
  readonly secrets: PgVigilHostSecrets;

  constructor(scope: Construct, id: string, props: DbHostsProps) {
    super(scope, id);
    const asset = agentAsset(this);
    // Where this build's agent bundle is, in a parameter the user data reads at boot rather than
    // written into it: EC2 changes an instance's user data only while it is stopped, so a bundle
    // key in the user data made CloudFormation stop and start every host at once for each new
    // agent build, for nothing (user data runs at a host's first boot only).
    const bundleParameter = new ssm.StringParameter(this, 'AgentBundleLocation', {
      parameterName: `${hostParameterPrefix(Stack.of(this).stackName, props.cluster.cluster)}agent-bundle`,
      stringValue: asset.s3ObjectUrl,
      description: `pgvigil ${props.cluster.cluster}: the S3 object of the agent bundle a new host installs`,
    });
    // This one object, not the whole bootstrap bucket, and the parameter naming it.
    props.agentPolicy.addStatements(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [asset.bucket.arnForObjects(asset.s3ObjectKey)] }),
      new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [bundleParameter.parameterArn] }),
    );
    if (!/^ami-[0-9a-f]{8,17}$/.test(props.ami)) throw new Error(`PgVigil: dbHosts: dbHostAmi: give an AMI id like ami-0123456789abcdef0 (got "${props.ami}")`);
    const subnets = props.vpc.privateSubnets;
    // 'HostParameters', not the 'Secrets' the secrets had: CloudFormation cannot change a logical id's type.
    this.secrets = new PgVigilHostSecrets(this, 'HostParameters', { cluster: props.cluster.cluster, provider: props.parameterProvider });
    this.secrets.grantHosts(props.agentPolicy, props.agentRole(props.cluster.nodes[0]!.name));

    for (const node of props.cluster.nodes) {
      const subnet = subnets.find((s) => !Token.isUnresolved(s.ipv4CidrBlock) && cidrContains(s.ipv4CidrBlock, node.host));
      if (!subnet) throw new Error(`dbHosts: node ${node.name} host ${node.host} is in none of the VPC's private subnets: give it an address inside one`);

      const eni = new ec2.CfnNetworkInterface(this, `${node.name}Eni`, {
        subnetId: subnet.subnetId,
        groupSet: [props.securityGroup.securityGroupId],
        privateIpAddress: node.host,
        description: `pgvigil ${props.cluster.cluster} ${node.name}`,
        tags: [{ key: clusterTagKey, value: props.cluster.cluster }],
      });

      // The data lives on its own encrypted volume, apart from the instance: replacing or
      // terminating the host leaves it (and deleting the stack snapshots it).
      const data = new ec2.Volume(this, `${node.name}Data`, {
        availabilityZone: subnet.availabilityZone,
        size: Size.gibibytes(props.dataVolumeGiB ?? 20),
        volumeType: ec2.EbsDeviceVolumeType.GP3,
        encrypted: true,
        removalPolicy: RemovalPolicy.SNAPSHOT,
      });
      Tags.of(data).add('Name', `pgvigil-${props.cluster.cluster}-${node.name}-data`);

      const userData = ec2.UserData.forLinux();
      userData.addCommands('set -euo pipefail', ...mountDataVolume(data.volumeId));
      userData.addCommands(
        ...hostUserData({
          spec: props.cluster,
          node: node.name,
          bundleParameter: bundleParameter.parameterName,
          dataMount,
          region: props.region,
          tableName: props.tableName,
          archiveBucketName: props.archiveBucketName,
          agentKeyParameterName: props.agentKeyParameterNameOf(node.name),
          parameters: this.secrets.names,
          parameterKeyId: this.secrets.key,
          clientCidr: props.vpc.vpcCidrBlock,
        }),
      );

      const instance = new ec2.Instance(this, node.name, {
        vpc: props.vpc,
        vpcSubnets: { subnets: [subnet] },
        securityGroup: props.securityGroup,
        instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.SMALL),
        machineImage: new PinnedImage(props.ami),
        role: props.agentRole(node.name),
        userData,
        httpTokens: ec2.HttpTokens.REQUIRED,
        // The root volume holds only the OS and the agent; it goes with the instance.
        blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(10, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }) }],
      });
      new ec2.CfnVolumeAttachment(this, `${node.name}DataAttachment`, { instanceId: instance.instanceId, volumeId: data.volumeId, device: '/dev/sdf' });
      // The node's address lives on its own ENI, tagged so only this cluster's agents may move IPs on it.
      const cfn = instance.node.defaultChild as ec2.CfnInstance;
      cfn.addPropertyDeletionOverride('SubnetId');
      cfn.addPropertyDeletionOverride('SecurityGroupIds');
      cfn.addPropertyOverride('NetworkInterfaces', [{ DeviceIndex: '0', NetworkInterfaceId: eni.ref }]);
      Tags.of(instance).add(clusterTagKey, props.cluster.cluster);
      Tags.of(instance).add('Name', `pgvigil-${props.cluster.cluster}-${node.name}`);
      this.instances.push(instance);
    }
  }
}

/**
 * Wait for the data volume (attached after the instance exists), make its file system the first
 * time only, and mount it by UUID at every boot. On Nitro instances an EBS volume is an NVMe
 * device whose serial is the volume id without its dash.
 */
function mountDataVolume(volumeId: string): string[] {
  return [
    `DATA_VOLUME=${volumeId}`,
    'DATA_DEV=/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${DATA_VOLUME/-/}',
    'for _ in $(seq 1 120); do [ -e "$DATA_DEV" ] && break; sleep 5; done',
    '[ -e "$DATA_DEV" ] || { echo "pgvigil: data volume $DATA_VOLUME was never attached" >&2; exit 1; }',
    'blkid "$DATA_DEV" >/dev/null || mkfs.xfs -L pgvigil-data "$DATA_DEV"',
    `install -d ${dataMount}`,
    `grep -q ' ${dataMount} ' /etc/fstab || echo "UUID=$(blkid -s UUID -o value "$DATA_DEV") ${dataMount} xfs defaults,noatime,nofail 0 2" >> /etc/fstab`,
    `mountpoint -q ${dataMount} || mount ${dataMount}`,
  ];
}
