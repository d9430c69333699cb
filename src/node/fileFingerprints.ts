// What a job read, fingerprinted: the worker wraps the FileAccess it hands to the engine so that every file the
// engine opens for one model (the model, TF.js shards, ONNX external data) is recorded, then hashes each one. The
// extension caches an audit under these fingerprints, and after a reload compares sizes and modification times only,
// so that it reads no model itself.
import { createHash } from 'crypto';
import * as fs from 'fs';
import type { FileAccess } from '../engine';
import type { FileFingerprint } from '../shared/workerProtocol';

/**
 * A FileAccess that remembers every file the engine read, looked at (a shard's size decides a "truncated" error before
 * it is read) or looked for and did not find (a missing shard: the outcome changes when it appears). Listing folders
 * is not recorded; folders that were looked at are left out when fingerprinting.
 */
export function recordingFileAccess(inner: FileAccess): { files: FileAccess; read: Set<string> } {
  const read = new Set<string>();
  const record =
    <A extends unknown[], R>(use: (file: string, ...rest: A) => Promise<R>) =>
    (file: string, ...rest: A): Promise<R> => {
      read.add(file);
      return use(file, ...rest);
    };
  const files: FileAccess = {
    readFile: record((file, maxBytes?: number) => inner.readFile(file, maxBytes)),
    readRange: record((file, offset: number, length: number, options?: { followLinks?: boolean }) => inner.readRange(file, offset, length, options)),
    stat: record((file) => inner.stat(file)),
    list: (folder) => inner.list(folder),
    realPath: record((file) => inner.realPath(file)),
  };
  return { files, read };
}

/** Size, whole-millisecond mtime and SHA-256 of each file (streamed: large models are not held in memory twice). */
export async function fingerprintFiles(files: Iterable<string>): Promise<FileFingerprint[]> {
  const result: FileFingerprint[] = [];
  for (const file of [...new Set(files)].sort()) {
    const before = await statOf(file);
    if (before === 'other') continue; // a folder the engine looked at: not an input
    if (!before) {
      result.push({ file, missing: true });
      continue;
    }
    const sha256 = await hashFile(file).catch(() => undefined);
    const after = await statOf(file);
    // Changed (or gone) while it was hashed: the fingerprint would not describe what was analysed.
    if (!sha256 || !after || after === 'other' || after.size !== before.size || after.mtime !== before.mtime) return [];
    result.push({ file, size: before.size, mtime: before.mtime, sha256 });
  }
  return result;
}

/** A regular file's size and time, 'other' for anything else that exists, undefined for nothing. */
async function statOf(file: string): Promise<{ size: number; mtime: number } | 'other' | undefined> {
  const stat = await fs.promises.stat(file).catch(() => undefined);
  if (!stat) return undefined;
  // Whole milliseconds as VS Code's FileStat has them (Date#getTime of Node's stat: rounded, not floored).
  return stat.isFile() ? { size: stat.size, mtime: stat.mtime.getTime() } : 'other';
}

function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    fs.createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
