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
