import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parseWith, type Parsed } from '../domain/parse.ts';
import { openArchive } from './archiveStore.ts';
import { ArchiveTarget } from './archiveTarget.ts';
import { isWalArchiveName } from './walNames.ts';

/** The archive target from a JSON file: `{ "kind": "dir", "path": … }` or `{ "kind": "s3", "bucket": … }`. */
export function loadArchiveTarget(path: string): Parsed<ArchiveTarget> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return { ok: false, reason: `archive target ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  // An agent config holds the target under "archive"; a target file is the target itself.
  const target = typeof json === 'object' && json !== null && 'archive' in json ? (json as { archive: unknown }).archive : json;
  return parseWith(ArchiveTarget, target, 'archive target');
}

/**
 * PostgreSQL's archive_command: `pgvigil-agent archive-push --target-file F %p %f`. It runs as
 * the server's OS user with the data directory as working directory; exit 0 only once the
 * file is durably in the archive (PostgreSQL then recycles it; on failure it retries).
 */
export async function archivePush(target: ArchiveTarget, walPath: string, fileName: string): Promise<{ ok: true; existed: boolean } | { ok: false; reason: string }> {
  if (!isWalArchiveName(fileName)) return { ok: false, reason: `${fileName} is not a WAL file name: archive_command must pass %p %f` };
  const archive = await openArchive(target);
  const local = isAbsolute(walPath) ? walPath : join(process.cwd(), walPath);
  return archive.putFile(`wal/${fileName}`, local, { ifAbsent: true });
}
