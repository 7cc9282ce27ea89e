import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { ArchiveObject, ArchiveStore, PutResult } from './archiveStore.ts';

const errText = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** fsync a file or directory: a WAL segment PostgreSQL is told is archived must survive a power cut. */
async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * The archive on a local (or mounted) directory. Writes go to a temp name, are fsynced, then
 * renamed into place and the directory fsynced, so a reader never sees half a file.
 */
export function createDirArchive(root: string): ArchiveStore {
  const pathOf = (key: string) => join(root, ...key.split('/'));

  async function place(key: string, write: (tmp: string) => Promise<void>, ifAbsent: boolean, size: () => Promise<number>): Promise<PutResult> {
    const dest = pathOf(key);
    try {
      await mkdir(dirname(dest), { recursive: true });
      if (ifAbsent) {
        const existing = await stat(dest).catch(() => null);
        if (existing) {
          const want = await size();
          return existing.size === want ? { ok: true, existed: true } : { ok: false, reason: `${key} exists in ${root} with ${existing.size} bytes, not ${want}: refusing to overwrite it` };
        }
      }
      const tmp = `${dest}.tmp-${randomBytes(4).toString('hex')}`;
      await write(tmp);
      await fsyncPath(tmp);
      await rename(tmp, dest);
      await fsyncPath(dirname(dest));
      return { ok: true, existed: false };
    } catch (e) {
      return { ok: false, reason: `cannot write ${key} in ${root}: ${errText(e)}` };
    }
  }

  return {
    where: root,
    putFile(key, localPath, opts = {}) {
      return place(key, (tmp) => copyFile(localPath, tmp), opts.ifAbsent ?? false, async () => (await stat(localPath)).size);
    },
    putText(key, text) {
      return place(key, (tmp) => writeFile(tmp, text), false, async () => Buffer.byteLength(text));
    },
    async getFile(key, localPath) {
      try {
        await copyFile(pathOf(key), localPath);
        return { ok: true, found: true };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, found: false };
        return { ok: false, reason: `cannot read ${key} from ${root}: ${errText(e)}` };
      }
    },
    async getText(key) {
      try {
        return { ok: true, text: await readFile(pathOf(key), 'utf8') };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, text: null };
        return { ok: false, reason: `cannot read ${key} from ${root}: ${errText(e)}` };
      }
    },
    async list(prefix) {
      const objects: ArchiveObject[] = [];
      const walk = async (dir: string): Promise<void> => {
        let entries;
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw e;
        }
        for (const entry of entries) {
          const full = join(dir, entry.name);
          if (entry.isDirectory()) await walk(full);
          else if (entry.isFile() && !entry.name.includes('.tmp-')) {
            const key = relative(root, full).split(sep).join('/');
            if (key.startsWith(prefix)) objects.push({ key, bytes: (await stat(full)).size });
          }
        }
      };
      try {
        await walk(root);
      } catch (e) {
        return { ok: false, reason: `cannot list ${root}: ${errText(e)}` };
      }
      objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return { ok: true, objects };
    },
  };
}
