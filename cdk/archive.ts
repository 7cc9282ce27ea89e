import { Construct } from 'constructs';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { archiveUse, createControlKey } from './controlKey.ts';

/** How long WAL and base backups are kept unless the PgVigil props say otherwise. */
export const defaultBackupRetentionDays = 35;
/** Daily at 03:00 UTC (EventBridge cron is always UTC). */
export const defaultBackupSchedule = (): events.Schedule => events.Schedule.cron({ minute: '0', hour: '3' });
/** The key prefixes the agents write (lib/backup/archiveTarget.ts); the archive has no others. */
export const archivePrefixes = ['wal/', 'backups/'] as const;
/** What the schedule sends decide (lib/control/lambdaEvents.ts ScheduledBackup). */
export const scheduledBackupSource = 'pgvigil.schedule';

/** S3 Standard-IA bills at least 30 days per object: moving there only pays when objects stay that long after the move. */
const IA_AFTER_DAYS = 30;
const IA_MINIMUM_DAYS = 30;

export interface ArchiveProps {
  /**
   * S3 Object Lock in governance mode, each object retained `retentionDays`: not even the
   * account's own users may delete or overwrite a backup before then without the bypass
   * permission. Default false (a locked bucket cannot be emptied early, e.g. a demo).
   */
  objectLock?: boolean;
  /** Days to keep WAL and base backups; older objects expire. */
  retentionDays: number;
}

export interface BackupScheduleProps {
  /** When to take a backup of each cluster; null: never by schedule. */
  schedule: events.Schedule | null;
  /** Invoked by the schedule, once per cluster. */
  decide: lambda.IFunction;
  clusterNames: string[];
  /** false: the schedule is deployed disabled (no hosts to back up yet). Default true. */
  enabled?: boolean;
}

/**
 * The WAL archive and base backups on S3: encrypted with the stack's key, private, TLS only,
 * versioned, kept `retentionDays` and then expired; who may write and read it
 * (`grantAgents`, `grantOperators`); and the schedule that has decide ask a standby's agent for
 * a backup (`scheduleBackups`). Built before the functions: the alert topic they publish to is
 * encrypted with the key made here.
 */
export class PgVigilArchive extends Construct {
  /** The stack's one key (cdk/controlKey.ts): made here so it keeps the archive key's logical id, retained with the backups. */
  readonly key: kms.Key;
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;
  readonly scheduleRules: events.Rule[] = [];

  constructor(scope: Construct, id: string, props: ArchiveProps) {
    super(scope, id);
    if (!Number.isInteger(props.retentionDays) || props.retentionDays < 1) {
      throw new Error(`PgVigil: backupRetentionDays: give a whole number of days, at least 1 (got ${props.retentionDays})`);
    }
    // Server access logs can only go to a bucket with S3-managed keys; they say who read or wrote which backup.
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(365) }],
    });

    this.key = createControlKey(this, 'Key');
    const days = props.retentionDays;
    const toIa = days >= IA_AFTER_DAYS + IA_MINIMUM_DAYS ? [{ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(IA_AFTER_DAYS) }] : [];
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      // One data key per bucket, not per object: far fewer KMS calls for thousands of WAL
      // segments. It also makes the bucket ARN the encryption context every grant is bound to.
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      ...(props.objectLock ? { objectLockEnabled: true, objectLockDefaultRetention: s3.ObjectLockRetention.governance(Duration.days(props.retentionDays)) } : {}),
      // Backups outlive the stack: deleting it must never delete them.
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'archive/',
      lifecycleRules: [
        ...archivePrefixes.map((prefix) => ({ id: `expire-${prefix.slice(0, -1)}`, prefix, expiration: Duration.days(days), transitions: toIa })),
        {
          id: 'versions-and-uploads',
          // An overwritten or expired object stays restorable for a week, then goes.
          noncurrentVersionExpiration: Duration.days(7),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
          expiredObjectDeleteMarker: true,
        },
      ],
    });
  }

  /** SSE-KMS: writing needs a data key, reading decrypts it; both only through S3, for this bucket. */
  private keyUse(): iam.PolicyStatement {
    return new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [this.key.keyArn], conditions: archiveUse(this, this.bucket.bucketArn) });
  }

  /**
   * The only writer of the archive: the policy every agent role of the database hosts holds.
   * The agents push WAL and backups and read them back (restore, verify); no delete, no other
   * prefix. `sourceVpcId`: their requests must come from this VPC (through the S3 gateway endpoint).
   */
  grantAgents(writer: iam.ManagedPolicy, sourceVpcId?: string): void {
    const fromVpc = sourceVpcId ? { StringEquals: { 'aws:SourceVpc': sourceVpcId } } : {};
    const objects = (prefixes: readonly string[]) => prefixes.map((prefix) => this.bucket.arnForObjects(`${prefix}*`));
    writer.addStatements(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: objects(archivePrefixes), conditions: { ...fromVpc } }),
      // A WAL segment is written once (archive_command): S3 refuses a PutObject without
      // If-None-Match, so no host can overwrite one, whatever its client sends.
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: objects(['wal/']), conditions: { Null: { 's3:if-none-match': 'false' }, ...fromVpc } }),
      // Base backups are multipart uploads, whose parts take no conditional header (S3 User Guide,
      // "Enforce conditional writes"); each backup has a key of its own, made when it is taken.
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: objects(['backups/']), conditions: { ...fromVpc } }),
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': archivePrefixes.map((prefix) => `${prefix}*`) }, ...fromVpc },
      }),
      this.keyUse(),
    );
  }

  /**
   * The operators' policy: lists and verifies backups from their machine (pgvigil backups /
   * restore --verify): reads everything archived, writes only the verification result beside a backup.
   */
  grantOperators(verifier: iam.ManagedPolicy): void {
    verifier.addStatements(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: archivePrefixes.map((prefix) => this.bucket.arnForObjects(`${prefix}*`)) }),
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects('backups/*/verification.json')] }),
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': archivePrefixes.map((prefix) => `${prefix}*`) } },
      }),
      this.keyUse(),
    );
  }

  /** The schedule that has decide take a base backup of each cluster from a standby. */
  scheduleBackups(props: BackupScheduleProps): void {
    if (props.schedule) {
      for (const cluster of props.clusterNames) {
        const rule = new events.Rule(this, `BackupSchedule-${cluster}`, {
          schedule: props.schedule,
          enabled: props.enabled ?? true,
          description: `pgvigil: take a base backup of ${cluster} from a standby`,
        });
        // No retry: a second call while the first backup runs is refused by the agent anyway.
        rule.addTarget(
          new targets.LambdaFunction(props.decide, {
            event: events.RuleTargetInput.fromObject({ source: scheduledBackupSource, action: 'backup', cluster }),
            retryAttempts: 0,
            maxEventAge: Duration.hours(1),
          }),
        );
        this.scheduleRules.push(rule);
      }
    }
  }
}
