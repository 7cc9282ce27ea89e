import type { OsUser } from '../postgres/osUser.ts';
import type { SecretSource } from './bootstrapConfig.ts';
import { ensurePasswordFile } from './secretFiles.ts';

/**
 * A password from its source: a file (generated when absent, so the first host of a lab makes
 * it and the others read it) or a Secrets Manager secret the stack generated at deploy.
 */
export async function resolvePassword(source: SecretSource, owner: OsUser | null = null): Promise<string> {
  if ('file' in source) return ensurePasswordFile(source.file, owner);
  const { getSecretString } = await import('./awsSecrets.ts');
  const value = await getSecretString(source.secretId, source.region);
  if (value === null) throw new Error(`secret ${source.secretId} holds no value yet: check the stack generated it`);
  return value.trim();
}
