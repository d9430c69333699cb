// What a job read, fingerprinted: the worker wraps the FileAccess it hands to the engine so that every file the
// engine opens for one model (the model, TF.js shards, ONNX external data) is recorded, then hashes each one. The
// extension caches an audit under these fingerprints, and after a reload compares sizes and modification times only,
// so that it reads no model itself.
import { createHash } from 'crypto';
import * as fs from 'fs';
import { isFileAccessError, type FileAccess } from '../engine';
import type { FileFingerprint } from '../shared/workerProtocol';

/**
 * A FileAccess that remembers which files were read, and which were looked for and not found (a missing shard: the
 * outcome changes when it appears). Listing folders and finding files that exist are not reads.
 */
export function recordingFileAccess(inner: FileAccess): { files: FileAccess; read: Set<string> } {
  const read = new Set<string>();
  const notFound = (file: string) => (e: unknown) => {
    if (isFileAccessError(e) && e.code === 'not-found') read.add(file);
    throw e;
  };
  const files: FileAccess = {
    readFile: (file, maxBytes) => (read.add(file), inner.readFile(file, maxBytes)),
    readRange: (file, offset, length, options) => (read.add(file), inner.readRange(file, offset, length, options)),
    stat: (file) => inner.stat(file).catch(notFound(file)),
    list: (folder) => inner.list(folder),
    realPath: (file) => inner.realPath(file).catch(notFound(file)),
  };
  return { files, read };
}

/** Size, whole-millisecond mtime and SHA-256 of each file (streamed: large models are not held in memory twice). */
export async function fingerprintFiles(files: Iterable<string>): Promise<FileFingerprint[]> {
  const result: FileFingerprint[] = [];
  for (const file of [...new Set(files)].sort()) {
    const before = await statOf(file);
    if (!before) {
      result.push({ file, missing: true });
      continue;
    }
    const sha256 = await hashFile(file).catch(() => undefined);
    const after = await statOf(file);
    // Changed (or gone) while it was hashed: the fingerprint would not describe what was analysed.
    if (!sha256 || !after || after.size !== before.size || after.mtime !== before.mtime) return [];
    result.push({ file, size: before.size, mtime: before.mtime, sha256 });
  }
  return result;
}

async function statOf(file: string): Promise<{ size: number; mtime: number } | undefined> {
  const stat = await fs.promises.stat(file).catch(() => undefined);
  return stat?.isFile() ? { size: stat.size, mtime: Math.floor(stat.mtimeMs) } : undefined;
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
