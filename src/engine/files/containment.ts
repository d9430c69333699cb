// Files a model refers to (ONNX external data, TF.js shards) must stay inside the model's folder: external_data
// paths are a known traversal vector (CVE-2022-25882, CVE-2024-27318). Every referenced file is resolved here, and
// read (through FileAccess.readRange, which does not follow a final link) while the model is read: nothing a model
// refers to is opened later.
import * as path from 'path';
import { ModelReadError } from '../errors';
import type { FileAccess } from './fileAccess';

/**
 * Resolves `relative` against `folder` and returns the real path, or throws `path-escape` if it is absolute,
 * climbs out with `..`, or is (or passes through) a link leading outside the folder, and `missing-weights` when
 * it does not exist. `modelFile` and `where` only label the error.
 */
export async function resolveInsideFolder(files: FileAccess, folder: string, relative: string, modelFile: string, where: string): Promise<string> {
  if (relative.length === 0) throw new ModelReadError('path-escape', modelFile, where, 'empty file reference');
  if (relative.includes('\0')) throw new ModelReadError('path-escape', modelFile, where, 'file reference contains a NUL byte');
  if (path.isAbsolute(relative) || path.win32.isAbsolute(relative) || /^[a-zA-Z]:/.test(relative)) {
    throw new ModelReadError('path-escape', modelFile, where, `refers to an absolute path "${relative}"; only files inside the model's folder are read`);
  }
  const parts = relative.split(/[\\/]+/);
  if (parts.includes('..')) {
    throw new ModelReadError('path-escape', modelFile, where, `refers to "${relative}", which leaves the model's folder`);
  }
  const realFolder = await files.realPath(folder);
  let real: string;
  try {
    real = await files.realPath(path.resolve(realFolder, ...parts));
  } catch {
    throw new ModelReadError('missing-weights', modelFile, where, `refers to "${relative}", which does not exist`);
  }
  const inside = real === realFolder || real.startsWith(realFolder + path.sep);
  if (!inside) {
    throw new ModelReadError('path-escape', modelFile, where, `"${relative}" is a link that leads outside the model's folder`);
  }
  return real;
}
