import { isAbsolute, resolve } from 'node:path';
import { parseWith } from '../domain/parse.ts';
import { ArchiveTarget } from './archiveTarget.ts';

/** `--archive`: a directory path, or s3://bucket/prefix/. */
export function parseArchiveUrl(value: string): { ok: true; target: ArchiveTarget } | { ok: false; reason: string } {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(value);
  const candidate = s3
    ? { kind: 's3', bucket: s3[1], prefix: s3[2] === '' || s3[2]!.endsWith('/') ? s3[2] : `${s3[2]}/` }
    : { kind: 'dir', path: isAbsolute(value) ? value : resolve(value) };
  const r = parseWith(ArchiveTarget, candidate, `--archive ${value}`);
  return r.ok ? { ok: true, target: r.value } : r;
}
