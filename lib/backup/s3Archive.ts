import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ArchiveObject, ArchiveStore, PutResult } from './archiveStore.ts';
import type { ArchiveTarget } from './archiveTarget.ts';

type S3Target = Extract<ArchiveTarget, { kind: 's3' }>;

const status = (e: unknown) => (e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined);
const errText = (e: unknown) => (e instanceof S3ServiceException ? `${e.name} (${e.$metadata.httpStatusCode ?? '?'})` : (e as Error).message);

/**
 * The archive in an S3 bucket (the CDK stack's, encrypted with its KMS key by bucket default).
 * Idempotent puts use a conditional write (If-None-Match: *), so a WAL file already archived
 * is never overwritten; a 412 with the same size counts as done.
 */
export function createS3Archive(target: S3Target, client = new S3Client(target.region ? { region: target.region } : {})): ArchiveStore {
  const Bucket = target.bucket;
  const full = (key: string) => `${target.prefix}${key}`;
  const where = `s3://${Bucket}/${target.prefix}`;

  async function sizeOf(key: string): Promise<number | null> {
    try {
      return (await client.send(new HeadObjectCommand({ Bucket, Key: full(key) }))).ContentLength ?? 0;
    } catch (e) {
      if (status(e) === 404) return null;
      throw e;
    }
  }

  return {
    where,
    async putFile(key, localPath, opts = {}): Promise<PutResult> {
      try {
        const bytes = (await stat(localPath)).size;
        if (opts.ifAbsent) {
          // Look first: a retried archive_command is answered without an upload, and a store
          // without conditional writes (some S3-compatible ones) still never overwrites.
          const have = await sizeOf(key);
          if (have !== null) {
            return have === bytes ? { ok: true, existed: true } : { ok: false, reason: `${key} exists in ${where} with ${have} bytes, not ${bytes}: refusing to overwrite it` };
          }
          // WAL segments (16 MB): one conditional put; If-None-Match closes the race with another writer.
          await client.send(new PutObjectCommand({ Bucket, Key: full(key), Body: createReadStream(localPath), ContentLength: bytes, IfNoneMatch: '*' }));
        } else {
          // Base backups can pass PutObject's 5 GB limit: a multipart upload, parts in parallel.
          await new Upload({ client, params: { Bucket, Key: full(key), Body: createReadStream(localPath) }, partSize: 64 * 1024 * 1024, queueSize: 4 }).done();
        }
        return { ok: true, existed: false };
      } catch (e) {
        if (opts.ifAbsent && status(e) === 412) {
          const want = (await stat(localPath)).size;
          const have = await sizeOf(key).catch(() => null);
          return have === want ? { ok: true, existed: true } : { ok: false, reason: `${key} exists in ${where} with ${have ?? '?'} bytes, not ${want}: refusing to overwrite it` };
        }
        return { ok: false, reason: `cannot write ${key} to ${where}: ${errText(e)}` };
      }
    },
    async putText(key, text) {
      try {
        await client.send(new PutObjectCommand({ Bucket, Key: full(key), Body: text, ContentType: 'application/json' }));
        return { ok: true, existed: false };
      } catch (e) {
        return { ok: false, reason: `cannot write ${key} to ${where}: ${errText(e)}` };
      }
    },
    async getFile(key, localPath) {
      try {
        const got = await client.send(new GetObjectCommand({ Bucket, Key: full(key) }));
        await pipeline(got.Body as Readable, createWriteStream(localPath));
        return { ok: true, found: true };
      } catch (e) {
        if (status(e) === 404) return { ok: true, found: false };
        return { ok: false, reason: `cannot read ${key} from ${where}: ${errText(e)}` };
      }
    },
    async getText(key) {
      try {
        const got = await client.send(new GetObjectCommand({ Bucket, Key: full(key) }));
        return { ok: true, text: (await got.Body?.transformToString('utf8')) ?? '' };
      } catch (e) {
        if (status(e) === 404) return { ok: true, text: null };
        return { ok: false, reason: `cannot read ${key} from ${where}: ${errText(e)}` };
      }
    },
    async list(prefix) {
      const objects: ArchiveObject[] = [];
      let ContinuationToken: string | undefined;
      try {
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix: full(prefix), ...(ContinuationToken ? { ContinuationToken } : {}) }));
          for (const o of page.Contents ?? []) if (o.Key) objects.push({ key: o.Key.slice(target.prefix.length), bytes: o.Size ?? 0 });
          ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (ContinuationToken);
      } catch (e) {
        return { ok: false, reason: `cannot list ${where}: ${errText(e)}` };
      }
      return { ok: true, objects };
    },
  };
}
