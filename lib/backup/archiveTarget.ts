import { isAbsolute } from 'node:path';
import { z } from 'zod';

/**
 * Where a cluster's WAL archive and base backups live: a directory (local mode, or a
 * mounted share on premises) or an S3 bucket (AWS). Layout under it, for both:
 *   wal/<segment or .history file>
 *   backups/<id>/base.tar.gz, backups/<id>/pg_wal.tar.gz, backups/<id>/manifest.json
 */
export const ArchiveTarget = z.discriminatedUnion(
  'kind',
  [
    z
      .object({
        kind: z.literal('dir'),
        path: z.string({ error: 'give the archive directory as an absolute path' }).refine(isAbsolute, 'give the archive directory as an absolute path'),
      })
      .strict(),
    z
      .object({
        kind: z.literal('s3'),
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'give an S3 bucket name, e.g. pgvigil-archive-123456789012'),
        prefix: z
          .string()
          .regex(/^([A-Za-z0-9._-]+\/)*$/, 'give a key prefix ending in "/", e.g. "main/", or ""')
          .default(''),
        region: z.string().min(1).optional(),
      })
      .strict(),
  ],
  { error: 'give archive.kind as "dir" (with path) or "s3" (with bucket)' },
);
export type ArchiveTarget = z.infer<typeof ArchiveTarget>;
