import { Construct } from 'constructs';
import { Stack, type CustomResource } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { HostParameterPurpose } from '../lib/control/agentKeyParameterEvent.ts';
import { parameterArn, type AgentKeyParameterProvider } from './agentKeyParameter.ts';
import { parameterDecrypt, parameterEncrypt, parameterUse } from './controlKey.ts';

/** What reads a parameter's value: every SSM read that can return one (as cdk/agentKeys.ts denies them). */
const parameterReads = ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParameterHistory'];

/** Where a cluster's host parameters live: `<prefix><purpose>` (lib/control/agentKeyParameterEvent.ts). */
export const hostParameterPrefix = (stackName: string, cluster: string): string => `/pgvigil/${stackName}/host/${cluster}/`;

/**
 * What the host bootstrap reads at every boot (lib/host/bootstrapConfig.ts, parameter sources):
 * the monitoring and replication passwords, generated here at deploy, and the cluster CA, which
 * the first host's bootstrap makes and puts here (the value generated at deploy is only a
 * placeholder it recognises as "no CA yet"), and the CA's certificate alone, which the bootstrap
 * copies there for the probe, act and decide. The probe reads the monitoring password and that
 * certificate, never the parameter with the CA key: with the key it could issue a certificate any
 * node would trust.
 *
 * SSM Parameter Store SecureStrings, standard tier under the stack's key (cdk/controlKey.ts), made by the agent keys' custom
 * resource (cdk/agentKeyParameter.ts): no monthly fee, where a Secrets Manager secret each cost
 * 0.40 USD. They were secrets because the probe reached Secrets Manager already and an SSM
 * parameter would have needed an SSM interface endpoint too in a VPC without egress; act and
 * decide read the agent keys from SSM now, so SSM is needed anyway and Secrets Manager by nobody:
 * such a VPC needs the one ssm endpoint (README: Networking). A CA (P-256 key and certificate, in
 * PEM, as JSON) is under 1 KB, well inside a standard parameter's 4 KB.
 *
 * Under the stack's key a reader needs ssm:GetParameter and kms:Decrypt bound to the parameter's
 * ARN (parameterUse): the hosts of this cluster get all four, the probe the monitoring password
 * and the certificate, act and decide the certificate; the CA itself is decrypted by the hosts
 * alone. A role elsewhere in the account with ssm:GetParameter on "*" (the hosts'
 * AmazonSSMManagedInstanceCore, another stack's hosts) gets nothing it can decrypt. Within the
 * stack the explicit denies stay (`denyHosts`, the CA denied in `grantCaCert`), on SSM and on the key.
 */
export class PgVigilHostSecrets extends Construct {
  readonly prefix: string;
  readonly monitorPassword: CustomResource;
  readonly replicationPassword: CustomResource;
  readonly clusterCa: CustomResource;
  readonly clusterCaCert: CustomResource;

  private readonly keyArn: string;

  constructor(scope: Construct, id: string, props: { cluster: string; provider: AgentKeyParameterProvider }) {
    super(scope, id);
    this.keyArn = props.provider.key.keyArn;
    this.prefix = hostParameterPrefix(Stack.of(this).stackName, props.cluster);
    const parameter = (logicalId: string, purpose: HostParameterPurpose) =>
      props.provider.hostParameter(this, logicalId, { Name: `${this.prefix}${purpose}`, Cluster: props.cluster, Purpose: purpose, Tier: 'Standard' });
    this.monitorPassword = parameter('MonitorPassword', 'monitor-password');
    this.replicationPassword = parameter('ReplicationPassword', 'replication-password');
    this.clusterCa = parameter('ClusterCa', 'cluster-ca');
    this.clusterCaCert = parameter('ClusterCaCert', 'cluster-ca-cert');
  }

  /** The parameter names, as the bootstrap config takes them (a reference: what names one waits for it to exist). */
  get names(): { monitor: string; replication: string; ca: string; caCert: string } {
    return { monitor: this.monitorPassword.ref, replication: this.replicationPassword.ref, ca: this.clusterCa.ref, caCert: this.clusterCaCert.ref };
  }

  /** The key the bootstrap puts the CA and its certificate under (its config's ca.keyId). */
  get key(): string {
    return this.keyArn;
  }

  private arns(...ps: CustomResource[]): string[] {
    return ps.map((p) => parameterArn(this, p.ref));
  }

  /** kms `actions` on the stack's key for these parameters only, through SSM. */
  private keyUse(actions: string[], ps: CustomResource[], effect = iam.Effect.ALLOW): iam.PolicyStatement {
    return new iam.PolicyStatement({ effect, actions, resources: [this.keyArn], conditions: parameterUse(this, this.arns(...ps)) });
  }

  private get all(): CustomResource[] {
    return [this.monitorPassword, this.replicationPassword, this.clusterCa, this.clusterCaCert];
  }

  /**
   * The cluster's hosts (`policy`: what each of them holds) read all four and put the CA's
   * certificate (any host's bootstrap); only the first host (`first`, the first peer of the
   * bootstrap config, the spec's first node) may put the CA.
   */
  grantHosts(policy: iam.ManagedPolicy, first: iam.IGrantable): void {
    policy.addStatements(
      new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: this.arns(...this.all) }),
      new iam.PolicyStatement({ actions: ['ssm:PutParameter'], resources: this.arns(this.clusterCaCert) }),
      this.keyUse(parameterDecrypt, this.all),
      this.keyUse(parameterEncrypt, [this.clusterCaCert]),
    );
    first.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ssm:PutParameter'], resources: this.arns(this.clusterCa) }));
    first.grantPrincipal.addToPrincipalPolicy(this.keyUse(parameterEncrypt, [this.clusterCa]));
  }

  /** Hosts of other clusters: their SSM core policy would read these; denied, as another node's agent key is. */
  denyHosts(roles: iam.IGrantable[]): void {
    for (const role of roles) {
      role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: [...parameterReads, 'ssm:PutParameter'], resources: this.arns(...this.all) }));
      role.grantPrincipal.addToPrincipalPolicy(this.keyUse([...parameterDecrypt, ...parameterEncrypt], this.all, iam.Effect.DENY));
    }
  }

  /** The probe logs in as pgvigil_monitor and checks each node's certificate and address (verify-full; lib/control/probeLoginEnv.ts). */
  grantProbe(fn: lambda.Function): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: this.arns(this.monitorPassword) }));
    fn.addToRolePolicy(this.keyUse(parameterDecrypt, [this.monitorPassword]));
    fn.addEnvironment('PGVIGIL_MONITOR_PARAMETER', this.monitorPassword.ref);
    this.grantCaCert(fn);
  }

  /** The CA's certificate (the probe, act and decide check the nodes by it), and never the CA: denied outright, whatever else is granted. */
  grantCaCert(fn: lambda.Function): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: this.arns(this.clusterCaCert) }));
    fn.addToRolePolicy(new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: parameterReads, resources: this.arns(this.clusterCa) }));
    fn.addToRolePolicy(this.keyUse(parameterDecrypt, [this.clusterCaCert]));
    fn.addToRolePolicy(this.keyUse(parameterDecrypt, [this.clusterCa], iam.Effect.DENY));
    fn.addEnvironment('PGVIGIL_CA_CERT_PARAMETER', this.clusterCaCert.ref);
  }
}
