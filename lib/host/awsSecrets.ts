import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * Connect and request limits for every Secrets Manager client (issue 15): a subnet without
 * egress must fail the call in seconds, not hang until the Lambda or the boot dies.
 */
export const secretsManagerHttp = { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true };

const client = (region?: string) => new SecretsManagerClient({ ...(region ? { region } : {}), requestHandler: secretsManagerHttp });

/**
 * Secrets Manager, on AWS: read a secret's string (null when the secret or its value is missing,
 * or it has no version in `versionStage`, e.g. AWSPREVIOUS before the first rotation), or put a
 * new one (the first host's CA).
 */
export async function getSecretString(secretId: string, region?: string, versionStage?: string): Promise<string | null> {
  const sm = client(region);
  try {
    const r = await sm.send(new GetSecretValueCommand({ SecretId: secretId, ...(versionStage ? { VersionStage: versionStage } : {}) }));
    return r.SecretString ?? null;
  } catch (e) {
    if ((e as { name?: string }).name === 'ResourceNotFoundException') return null;
    throw new Error(`Secrets Manager: cannot read ${secretId}: ${(e as Error).message} (check that this host's or function's role may read it)`);
  } finally {
    sm.destroy();
  }
}

export async function putSecretString(secretId: string, value: string, region?: string): Promise<void> {
  const sm = client(region);
  try {
    await sm.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
  } finally {
    sm.destroy();
  }
}
