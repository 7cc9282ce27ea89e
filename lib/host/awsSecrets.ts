import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** Secrets Manager, for hosts on AWS: read a secret's string, or put a new one (the first host's CA). */
export async function getSecretString(secretId: string, region?: string): Promise<string | null> {
  const client = new SecretsManagerClient(region ? { region } : {});
  try {
    const r = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    return r.SecretString ?? null;
  } catch (e) {
    if ((e as { name?: string }).name === 'ResourceNotFoundException') return null;
    throw new Error(`Secrets Manager: cannot read ${secretId}: ${(e as Error).message} (check the host role may read it)`);
  } finally {
    client.destroy();
  }
}

export async function putSecretString(secretId: string, value: string, region?: string): Promise<void> {
  const client = new SecretsManagerClient(region ? { region } : {});
  try {
    await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
  } finally {
    client.destroy();
  }
}
