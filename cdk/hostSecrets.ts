import { Construct } from 'constructs';
import { Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/**
 * What the host bootstrap reads at every boot (lib/host/bootstrapConfig.ts, secretId sources):
 * the monitoring and replication passwords, generated here at deploy, and the cluster CA,
 * which the first host's bootstrap makes and puts here (the value generated at deploy is only a
 * placeholder it recognises as "no CA yet"), and the CA's certificate alone, which the bootstrap
 * copies there for the probe function. The probe reads the monitoring password and that
 * certificate, never the secret with the CA key: with the key it could issue a certificate any
 * node would trust. A secret, not an SSM parameter, though a certificate is public: the probe
 * already reaches Secrets Manager (its VPC endpoint, its SDK client in the bundle), and an SSM
 * parameter would need an SSM interface endpoint in every AZ of a VPC without egress.
 */
export class PgVigilHostSecrets extends Construct {
  readonly monitorPassword: secretsmanager.Secret;
  readonly replicationPassword: secretsmanager.Secret;
  readonly clusterCa: secretsmanager.Secret;
  readonly clusterCaCert: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: { cluster: string }) {
    super(scope, id);
    // URL-safe characters only: the password goes into a libpq passfile and a SCRAM verifier as it is.
    const password = { passwordLength: 40, excludePunctuation: true };
    this.monitorPassword = new secretsmanager.Secret(this, 'MonitorPassword', {
      description: `pgvigil ${props.cluster}: pgvigil_monitor's password (pg_monitor only; the probe logs in with it over TLS)`,
      generateSecretString: password,
    });
    this.replicationPassword = new secretsmanager.Secret(this, 'ReplicationPassword', {
      description: `pgvigil ${props.cluster}: the replication role's password (standbys, pg_basebackup and pg_rewind between the hosts)`,
      generateSecretString: password,
    });
    this.clusterCa = new secretsmanager.Secret(this, 'ClusterCa', {
      description: `pgvigil ${props.cluster}: the cluster CA (certificate and key), put here by the first host's bootstrap`,
      generateSecretString: password,
    });
    this.clusterCaCert = new secretsmanager.Secret(this, 'ClusterCaCert', {
      description: `pgvigil ${props.cluster}: the cluster CA's certificate only (no key), put here by the hosts' bootstrap; the probe checks the nodes against it`,
      // A placeholder the probe recognises as "no certificate yet" (no PEM in it).
      generateSecretString: password,
    });
    const reasons: [secretsmanager.Secret, string][] = [
      [this.monitorPassword, 'Rotating it means a new SCRAM verifier on the primary and a new value for the probe at once; the bootstrap on the primary sets the role from the secret at every run, so rotation is an operator step (change the secret, restart the primary\'s agent), not a rotation Lambda.'],
      [this.replicationPassword, 'Held by every host in its passfile and by the role on the primary; the bootstrap sets both from the secret at every run, so rotation is an operator step (change the secret, restart every agent), not a rotation Lambda.'],
      [this.clusterCa, 'A CA key, not a password: a new CA means new certificates on every host (remove its host directory and re-run the bootstrap, which then issues one from the new CA); no rotation Lambda can do that.'],
      [this.clusterCaCert, 'A public certificate, not a credential: it changes only with the CA, and the hosts\' bootstrap puts the new one here.'],
    ];
    for (const [secret, reason] of reasons) Validations.of(secret).acknowledge({ id: 'AwsSolutions-SMG4', reason });
  }

  /** The hosts read all four; only they may put the CA (the first host's bootstrap) and its certificate (any host's). */
  grantHosts(policy: iam.ManagedPolicy): void {
    policy.addStatements(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [this.monitorPassword.secretArn, this.replicationPassword.secretArn, this.clusterCa.secretArn, this.clusterCaCert.secretArn],
      }),
      new iam.PolicyStatement({ actions: ['secretsmanager:PutSecretValue'], resources: [this.clusterCa.secretArn, this.clusterCaCert.secretArn] }),
    );
  }

  /** The probe logs in as pgvigil_monitor and checks each node's certificate and address (verify-full; lib/control/probeLoginEnv.ts). */
  grantProbe(fn: lambda.Function): void {
    this.monitorPassword.grantRead(fn);
    this.clusterCaCert.grantRead(fn);
    fn.addEnvironment('PGVIGIL_MONITOR_SECRET_ARN', this.monitorPassword.secretArn);
    fn.addEnvironment('PGVIGIL_CA_CERT_SECRET_ARN', this.clusterCaCert.secretArn);
  }
}
