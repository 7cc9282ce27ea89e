import type { SSMClient } from '@aws-sdk/client-ssm';
import type { OsUser } from '../postgres/osUser.ts';
import type { SecretSource } from './bootstrapConfig.ts';
import { ensurePasswordFile } from './secretFiles.ts';

/**
 * A password from its source: a file (generated when absent, so the first host of a lab makes
 * it and the others read it), an SSM SecureString parameter the stack generated at deploy, or a
 * Secrets Manager secret (hosts set up before the stack moved them to SSM). `ssm`: the client to
 * read parameters with (tests cut it at the wire); by default one in the source's region.
 */
export async function resolvePassword(source: SecretSource, owner: OsUser | null = null, o: { ssm?: SSMClient } = {}): Promise<string> {
  if ('file' in source) return ensurePasswordFile(source.file, owner);
  if ('parameter' in source) {
    const { getSecureParameter, ssmClient } = await import('./awsParameters.ts');
    const ssm = o.ssm ?? ssmClient(source.region);
    try {
      const value = (await getSecureParameter(ssm, source.parameter))?.trim();
      if (!value) throw new Error(`SSM parameter ${source.parameter} holds no password: check the stack created it (its outputs name it), and the region`);
      return value;
    } finally {
      if (!o.ssm) ssm.destroy();
    }
  }
  const { getSecretString } = await import('./awsSecrets.ts');
  const value = await getSecretString(source.secretId, source.region);
  if (value === null) throw new Error(`secret ${source.secretId} holds no value yet: check the stack generated it`);
  return value.trim();
}
