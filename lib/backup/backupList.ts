import type { ArchiveStore } from './archiveStore.ts';
import { BackupManifest, BackupVerification, MANIFEST, VERIFICATION, backupKey } from './backupManifest.ts';

export interface BackupEntry {
  id: string;
  /** False when files exist but no manifest: a backup that died half-way, not restorable. */
  complete: boolean;
  node: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  stopLsn: string | null;
  bytes: number;
  verification: BackupVerification | null;
  /** Why the manifest or the verification could not be read, if so. */
  problem: string | null;
}

/** Every backup in the archive, oldest first, with its newest verification. */
export async function listBackups(archive: ArchiveStore): Promise<{ ok: true; backups: BackupEntry[] } | { ok: false; reason: string }> {
  const listed = await archive.list('backups/');
  if (!listed.ok) return listed;
  const byId = new Map<string, { bytes: number; files: Set<string> }>();
  for (const o of listed.objects) {
    const [, id, file] = o.key.split('/');
    if (!id || !file) continue;
    const entry = byId.get(id) ?? { bytes: 0, files: new Set<string>() };
    entry.files.add(file);
    if (file.endsWith('.tar.gz')) entry.bytes += o.bytes;
    byId.set(id, entry);
  }
  const backups: BackupEntry[] = [];
  for (const [id, { bytes, files }] of [...byId.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const entry: BackupEntry = { id, complete: false, node: null, startedAt: null, finishedAt: null, stopLsn: null, bytes, verification: null, problem: null };
    if (files.has(MANIFEST)) {
      const m = await readJson(archive, backupKey(id, MANIFEST), BackupManifest.safeParse.bind(BackupManifest));
      if (m.ok) Object.assign(entry, { complete: true, node: m.value.node, startedAt: m.value.startedAt, finishedAt: m.value.finishedAt, stopLsn: m.value.stopLsn });
      else entry.problem = `manifest: ${m.reason}`;
    }
    if (files.has(VERIFICATION)) {
      const v = await readJson(archive, backupKey(id, VERIFICATION), BackupVerification.safeParse.bind(BackupVerification));
      if (v.ok) entry.verification = v.value;
      else entry.problem = `verification: ${v.reason}`;
    }
    backups.push(entry);
  }
  return { ok: true, backups };
}

async function readJson<T>(
  archive: ArchiveStore,
  key: string,
  parse: (v: unknown) => { success: true; data: T } | { success: false; error: { message: string } },
): Promise<{ ok: true; value: T } | { ok: false; reason: string }> {
  const got = await archive.getText(key);
  if (!got.ok) return got;
  if (got.text === null) return { ok: false, reason: 'missing' };
  try {
    const r = parse(JSON.parse(got.text));
    return r.success ? { ok: true, value: r.data } : { ok: false, reason: r.error.message.slice(0, 200) };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}
