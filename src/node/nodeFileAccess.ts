// FileAccess over Node's fs: what the CLI and the background worker hand to the engine. The only module (with the
// writers in ./outputs.ts) that touches the disk on the engine's behalf.
import * as fs from 'fs';
import * as path from 'path';
import { FileAccessError, type DirectoryEntry, type FileAccess, type FileAccessErrorCode, type FileKind, type FileStat } from '../engine';

/** Never blocking on a FIFO (POSIX only; 0 where the flag does not exist). */
const READ_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);
/** Also not following a final link: for files a model refers to, resolved and checked beforehand. */
const READ_FLAGS_NO_FOLLOW = READ_FLAGS | (fs.constants.O_NOFOLLOW ?? 0);

export const nodeFileAccess: FileAccess = {
  async readFile(file, maxBytes) {
    return withFile(file, READ_FLAGS, async (handle, size) => {
      if (maxBytes !== undefined && size > maxBytes) throw new FileAccessError('too-large', file, `the file is ${size} bytes, over the ${maxBytes}-byte limit`);
      return readAll(handle, 0, size);
    });
  },

  async readRange(file, offset, length, options) {
    return withFile(file, options?.followLinks === false ? READ_FLAGS_NO_FOLLOW : READ_FLAGS, (handle, size) =>
      readAll(handle, offset, Math.max(0, Math.min(length, size - offset))),
    );
  },

  async stat(file) {
    try {
      const stat = await fs.promises.stat(file);
      return { kind: kindOf(stat), size: stat.size } satisfies FileStat;
    } catch (e) {
      throw accessError(file, e);
    }
  },

  async list(folder) {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(folder, { withFileTypes: true });
    } catch (e) {
      throw accessError(folder, e);
    }
    return Promise.all(
      entries.map(async (entry): Promise<DirectoryEntry> => {
        if (!entry.isSymbolicLink()) return { name: entry.name, kind: kindOf(entry), isLink: false };
        const target = await fs.promises.stat(path.join(folder, entry.name)).then(kindOf, () => 'other' as const);
        return { name: entry.name, kind: target, isLink: true };
      }),
    );
  },

  async realPath(file) {
    try {
      return await fs.promises.realpath(file);
    } catch (e) {
      throw accessError(file, e);
    }
  },
};

async function withFile<T>(file: string, flags: number, use: (handle: fs.promises.FileHandle, size: number) => Promise<T>): Promise<T> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, flags);
  } catch (e) {
    throw accessError(file, e);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new FileAccessError('not-a-file', file, 'not a regular file');
    return await use(handle, stat.size);
  } catch (e) {
    throw e instanceof FileAccessError ? e : accessError(file, e);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

async function readAll(handle: fs.promises.FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  for (let done = 0; done < length;) {
    const { bytesRead } = await handle.read(bytes, done, length - done, offset + done);
    if (bytesRead === 0) return bytes.subarray(0, done); // the file shrank while we read it
    done += bytesRead;
  }
  return bytes;
}

function kindOf(stat: { isFile(): boolean; isDirectory(): boolean }): FileKind {
  return stat.isFile() ? 'file' : stat.isDirectory() ? 'directory' : 'other';
}

const REASONS: Record<string, [FileAccessErrorCode, string]> = {
  ENOENT: ['not-found', 'file not found'],
  ENOTDIR: ['not-found', 'file not found'],
  ELOOP: ['denied', 'is a symbolic link'],
  EACCES: ['denied', 'permission denied'],
  EPERM: ['denied', 'permission denied'],
  EISDIR: ['not-a-file', 'is a folder'],
};

function accessError(file: string, error: unknown): FileAccessError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
  const known = REASONS[code];
  if (known) return new FileAccessError(known[0], file, known[1]);
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return new FileAccessError('io', file, message);
}
