import type { Construct } from 'constructs';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';

/**
 * The stack's one customer managed key (1 USD a month; a key per use was a fifth of the
 * budget): the WAL archive and the alert topic are encrypted under it, and every grant on it
 * is bound to one use by condition, so sharing the key shares no access.
 *
 * - The archive's grants (agents, operators) hold only through S3 (`kms:ViaService`) and only
 *   under the archive bucket's encryption context: with an S3 Bucket Key that context is the
 *   bucket ARN, not the object's (S3 User Guide, "Configuring your bucket to use an S3 Bucket
 *   Key": "the encryption context will be the bucket Amazon Resource Name (ARN) and not the
 *   object ARN").
 * - The topic's grants (its publishers, and CloudWatch for the alarms) hold only under the
 *   encryption context SNS passes, `aws:sns:topicArn` (the key policy AWS documents for a
 *   service principal publishing to an encrypted topic, GameLift FlexMatch guide, "Set up an SNS
 *   topic with server-side encryption"). `kms:ViaService` is not required of them: no stored
 *   AWS page confirms that SNS sets it, and a wrong condition would silence every alert.
 *
 * An encryption context is bound to what it encrypts (KMS decrypts only under the context it
 * encrypted with), so a grant bound to the topic's context cannot open an archive data key,
 * and the reverse.
 *
 * It is made by the archive, under the archive's construct id, so it keeps the logical id the
 * archive's own key had: a new id would create a new key and strand every backup under the
 * old one (retained, but outside the agents' grant). Retained with the bucket for the same
 * reason: `cdk destroy` keeps the backups, and they are useless without the key.
 */
export function createControlKey(scope: Construct, id: string): kms.Key {
  return new kms.Key(scope, id, {
    enableKeyRotation: true,
    description: 'pgvigil: WAL archive and base backups, and the alert topic (each grant bound to its use by condition)',
    removalPolicy: RemovalPolicy.RETAIN,
  });
}

/** The conditions of a grant used by S3 for this bucket's objects only (SSE-KMS with an S3 Bucket Key). */
export function archiveUse(scope: Construct, bucketArn: string): Record<string, Record<string, unknown>> {
  return {
    StringEquals: {
      'kms:ViaService': `s3.${Stack.of(scope).region}.amazonaws.com`,
      'kms:EncryptionContext:aws:s3:arn': bucketArn,
    },
  };
}

/** The conditions of a grant used for this topic's messages only. */
export function topicUse(topicArn: string): Record<string, Record<string, unknown>> {
  return { StringEquals: { 'kms:EncryptionContext:aws:sns:topicArn': topicArn } };
}

/**
 * The conditions of a grant used by SSM Parameter Store for these SecureString parameters only.
 * A standard SecureString is encrypted and decrypted directly under the key: Parameter Store calls
 * KMS Encrypt when a value is created or changed and Decrypt when it is read (KMS Developer Guide,
 * "AWS KMS encryption for AWS Systems Manager Parameter Store SecureString parameters",
 * services-parameter-store.html), with the encryption context PARAMETER_ARN = the parameter's ARN,
 * `arn:aws:ssm:<region>:<account>:parameter/<path>/<name>` with its path (the page's "Parameter Store
 * encryption context", whose own IAM example conditions Decrypt on kms:EncryptionContext:PARAMETER_ARN
 * with StringEquals, as here; parameterArn builds that form). A grant bound
 * to one parameter's ARN therefore opens that parameter and nothing else, and none of the archive's
 * or the topic's ciphertexts, whose contexts are other keys.
 */
export function parameterUse(scope: Construct, parameterArns: string[]): Record<string, Record<string, unknown>> {
  return {
    StringEquals: {
      'kms:ViaService': `ssm.${Stack.of(scope).region}.amazonaws.com`,
      'kms:EncryptionContext:PARAMETER_ARN': parameterArns,
    },
  };
}

/** What reading a SecureString takes of the key, and what putting one takes (Encrypt; GenerateDataKey for an advanced one). */
export const parameterDecrypt = ['kms:Decrypt'];
export const parameterEncrypt = ['kms:Encrypt', 'kms:GenerateDataKey'];
