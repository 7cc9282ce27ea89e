import type { ArchiveTarget } from './archiveTarget.ts';
import { createDirArchive } from './dirArchive.ts';

export interface ArchiveObject {
  key: string;
  bytes: number;
}

export type PutResult = { ok: true; existed: boolean } | { ok: false; reason: string };

/**
 * The archive as keys and files, the same on a directory and on S3. Keys use "/" and are
 * relative to the target (wal/…, backups/<id>/…). Errors are values; `where` names the
 * target for messages.
 */
export interface ArchiveStore {
  readonly where: string;
  /**
   * Store a local file under `key`. With `ifAbsent`, an existing object of the same size
   * counts as done (archive_command must be idempotent) and a different one is refused,
   * never overwritten: two different WAL files under one name mean a split history.
   */
  putFile(key: string, localPath: string, opts?: { ifAbsent?: boolean }): Promise<PutResult>;
  putText(key: string, text: string): Promise<PutResult>;
  /** Copy `key` into a local file; `found: false` when there is no such object. */
  getFile(key: string, localPath: string): Promise<{ ok: true; found: boolean } | { ok: false; reason: string }>;
  getText(key: string): Promise<{ ok: true; text: string | null } | { ok: false; reason: string }>;
  /** Every object under the prefix, in key order. */
  list(prefix: string): Promise<{ ok: true; objects: ArchiveObject[] } | { ok: false; reason: string }>;
}

/** A directory target is opened at once; the S3 one loads the SDK only when asked for. */
export async function openArchive(target: ArchiveTarget): Promise<ArchiveStore> {
  if (target.kind === 'dir') return createDirArchive(target.path);
  const { createS3Archive } = await import('./s3Archive.ts');
  return createS3Archive(target);
}

export function describeTarget(target: ArchiveTarget): string {
  return target.kind === 'dir' ? target.path : `s3://${target.bucket}/${target.prefix}`;
}
