// Files a model refers to (ONNX external data, TF.js shards) must stay inside the model's folder:
// external_data paths are a known traversal vector (CVE-2022-25882, CVE-2024-27318).
import * as fs from 'fs';
import * as path from 'path';
import { ModelReadError } from './errors';

/**
 * Resolves `relative` against `folder` and returns the real path, or throws `path-escape` if it is absolute,
 * climbs out with `..`, or is (or passes through) a link leading outside the folder.
 * `modelFile` and `where` only label the error.
 */
export function resolveInsideFolder(folder: string, relative: string, modelFile: string, where: string): string {
  if (relative.length === 0) throw new ModelReadError('path-escape', modelFile, where, 'empty file reference');
  if (relative.includes('\0')) throw new ModelReadError('path-escape', modelFile, where, 'file reference contains a NUL byte');
  if (path.isAbsolute(relative) || path.win32.isAbsolute(relative) || /^[a-zA-Z]:/.test(relative)) {
    throw new ModelReadError('path-escape', modelFile, where, `refers to an absolute path "${relative}"; only files inside the model's folder are read`);
  }
  const parts = relative.split(/[\\/]+/);
  if (parts.includes('..')) {
    throw new ModelReadError('path-escape', modelFile, where, `refers to "${relative}", which leaves the model's folder`);
  }
  const realFolder = fs.realpathSync(folder);
  const candidate = path.resolve(realFolder, ...parts);
  let real: string;
  try {
    real = fs.realpathSync(candidate);
  } catch {
    throw new ModelReadError('missing-weights', modelFile, where, `refers to "${relative}", which does not exist`);
  }
  const inside = real === realFolder || real.startsWith(realFolder + path.sep);
  if (!inside) {
    throw new ModelReadError('path-escape', modelFile, where, `"${relative}" is a link that leads outside the model's folder`);
  }
  return real;
}

/** Not following a final link, and not blocking on a FIFO (POSIX only; 0 where the flags do not exist). */
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);

/**
 * Opens a referenced file when its data is finally read (weights load lazily, long after the model was read): the
 * reference is resolved again, so a file replaced since by a link leading out of the folder is refused ('path-escape').
 * Returns a descriptor of a regular file, or undefined when it can no longer be opened (the caller names the loss).
 */
export function openInsideFolder(folder: string, relative: string, modelFile: string, where: string): number | undefined {
  let file: string;
  try {
    file = resolveInsideFolder(folder, relative, modelFile, where);
  } catch (e) {
    if (e instanceof ModelReadError && e.code === 'path-escape') throw e;
    return undefined;
  }
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch {
    return undefined;
  }
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    return undefined;
  }
  return fd;
}
