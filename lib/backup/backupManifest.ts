import { z } from 'zod';
import { Lsn } from '../domain/observation.ts';

/** Rows per table, per database: `{ app: { "public.orders": 1200 } }`. */
export const RowCounts = z.record(z.string(), z.record(z.string(), z.number().int().min(0)));
export type RowCounts = z.infer<typeof RowCounts>;

export const BackupId = z.string().regex(/^\d{8}T\d{6}Z-[a-z0-9_-]+$/, 'give a backup id as `pgvigil backups` lists it, e.g. 20261124T031500Z-pg2');

/** Written last, after every file of the backup: a backup with no manifest is not a backup. */
export const BackupManifest = z
  .object({
    format: z.literal(1),
    id: BackupId,
    cluster: z.string(),
    /** The standby it was taken from. */
    node: z.string(),
    startedAt: z.iso.datetime(),
    finishedAt: z.iso.datetime(),
    serverVersionNum: z.number().int(),
    systemIdentifier: z.string(),
    timeline: z.number().int().min(1),
    startLsn: Lsn,
    stopLsn: Lsn,
    startWalFile: z.string().regex(/^[0-9A-F]{24}$/),
    files: z.array(z.object({ name: z.string(), bytes: z.number().int().min(0) })),
    /** Counted while replay was paused at the backup's end: what a restore to it must show. */
    rowCounts: RowCounts,
  })
  .strict();
export type BackupManifest = z.infer<typeof BackupManifest>;

/** The newest verification of a backup, kept beside it (the manifest itself never changes). */
export const BackupVerification = z
  .object({
    at: z.iso.datetime(),
    ok: z.boolean(),
    reason: z.string(),
    /** 'backup end' or the --target-time asked for. */
    target: z.string(),
    ms: z.number().int().min(0),
    rowCounts: RowCounts.optional(),
  })
  .strict();
export type BackupVerification = z.infer<typeof BackupVerification>;

export const backupKey = (id: string, file: string): string => `backups/${id}/${file}`;
export const MANIFEST = 'manifest.json';
export const VERIFICATION = 'verification.json';

/** Ids sort by time: the UTC start, then the node. */
export function backupIdFor(startedAt: Date, node: string): string {
  const iso = startedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `${iso}-${node}`;
}

/** Differences between two sets of row counts, in words; empty when they match. */
export function rowCountDifferences(want: RowCounts, got: RowCounts): string[] {
  const out: string[] = [];
  for (const [db, tables] of Object.entries(want)) {
    for (const [table, n] of Object.entries(tables)) {
      const have = got[db]?.[table];
      if (have === undefined) out.push(`${db}.${table} missing (expected ${n} rows)`);
      else if (have !== n) out.push(`${db}.${table} has ${have} rows, expected ${n}`);
    }
  }
  for (const [db, tables] of Object.entries(got)) {
    for (const table of Object.keys(tables)) if (want[db]?.[table] === undefined) out.push(`${db}.${table} was not in the backup`);
  }
  return out;
}
