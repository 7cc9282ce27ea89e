import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';

/**
 * Connect and request limits for every SSM client, as for Secrets Manager (lib/host/awsSecrets.ts):
 * a subnet without egress must fail the call in seconds, not hang until the Lambda or the agent's
 * start dies.
 */
export const ssmHttp = { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true };

export const ssmClient = (region?: string): SSMClient => new SSMClient({ ...(region ? { region } : {}), requestHandler: ssmHttp });

/**
 * SSM Parameter Store, on AWS: a SecureString parameter's value, decrypted (null when the
 * parameter does not exist). The message of a failure names the parameter, never a value.
 */
export async function getSecureParameter(ssm: SSMClient, name: string): Promise<string | null> {
  try {
    const r = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    return r.Parameter?.Value ?? null;
  } catch (e) {
    if ((e as { name?: string }).name === 'ParameterNotFound') return null;
    throw new Error(`SSM Parameter Store: cannot read ${name}: ${(e as Error).message} (check that this host's or function's role may read it)`);
  }
}

/**
 * Puts a SecureString parameter's new value (the first host's CA, any host's CA certificate):
 * Overwrite, since the stack made the parameter with a placeholder; standard tier (no monthly fee,
 * 4 KB: a CA's PEM is under 1 KB), under `keyId` when given (the bootstrap config's ca.keyId),
 * else aws/ssm. The message names the parameter, never the value.
 */
export async function putSecureParameter(ssm: SSMClient, name: string, value: string, keyId?: string): Promise<void> {
  try {
    await ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'SecureString', Tier: 'Standard', Overwrite: true, ...(keyId ? { KeyId: keyId } : {}) }));
  } catch (e) {
    throw new Error(`SSM Parameter Store: cannot put ${name}: ${(e as Error).message} (check that this host's role may put it)`);
  }
}
