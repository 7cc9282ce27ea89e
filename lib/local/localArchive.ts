import { chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchiveTarget } from '../backup/archiveTarget.ts';
import type { OsUser } from '../postgres/osUser.ts';

/** Local mode keeps the WAL archive and the base backups in the work dir. */
export const localArchiveDir = (workDir: string): string => join(workDir, 'archive');
export const localArchiveTargetFile = (workDir: string): string => join(workDir, 'archive.json');
export const localArchiveTarget = (workDir: string): ArchiveTarget => ({ kind: 'dir', path: localArchiveDir(workDir) });

/**
 * The archive directory and the target file archive_command reads. Both belong to the
 * server's OS user: archive_command runs as that user, not as the agent's.
 */
export async function prepareLocalArchive(workDir: string, osUser: OsUser | null): Promise<void> {
  const dir = localArchiveDir(workDir);
  for (const d of [dir, join(dir, 'wal'), join(dir, 'backups')]) {
    await mkdir(d, { recursive: true, mode: 0o700 });
    if (osUser) await chown(d, osUser.uid, osUser.gid);
  }
  const file = localArchiveTargetFile(workDir);
  await writeFile(file, `${JSON.stringify(localArchiveTarget(workDir))}\n`, { mode: 0o644 });
  if (osUser) await chown(file, osUser.uid, osUser.gid);
}

/**
 * The settings that turn archiving on, the same on every node: only the primary archives
 * (archive_mode on), so after a failover the new primary carries on, timeline history first.
 */
export function localArchiveConf(workDir: string, agentScript: string): Record<string, string> {
  return {
    archive_mode: 'on',
    // At low CPU priority: the archiver starts right after a promotion (the history file, the
    // partial segment) and must not slow the new primary's first commits on a small host.
    archive_command: `nice -n 10 "${process.execPath}" "${agentScript}" archive-push --target-file "${localArchiveTargetFile(workDir)}" "%p" "%f"`,
  };
}
