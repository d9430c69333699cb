// Files a model refers to (ONNX external data, TF.js shards) must stay inside the model's folder: external_data
// paths are a known traversal vector (CVE-2022-25882, CVE-2024-27318). Every referenced file is resolved here, and
// read (through FileAccess.readRange, which does not follow a final link) while the model is read: nothing a model
// refers to is opened later. The extension resolves the files its settings name (a config file, a baseline report)
// inside the workspace folder by the same rules (containedPath).
import * as path from 'path';
import { ModelReadError } from '../errors';
import type { FileAccess } from './fileAccess';

/** Where a relative reference leads: inside the folder (its real path), out of it, or nowhere. */
export type Containment = { kind: 'inside'; path: string } | { kind: 'escape'; reason: string } | { kind: 'missing'; reason: string };

/**
 * Resolves `relative` against `folder` without leaving it: an absolute path, a `..` step, or a link (anywhere on the
 * way) that leads outside is an escape. `folderName` says which folder in the reasons ("the model's folder").
 */
export async function containedPath(files: FileAccess, folder: string, relative: string, folderName: string): Promise<Containment> {
  if (relative.length === 0) return { kind: 'escape', reason: 'empty file reference' };
  if (relative.includes('\0')) return { kind: 'escape', reason: 'file reference contains a NUL byte' };
  if (path.isAbsolute(relative) || path.win32.isAbsolute(relative) || /^[a-zA-Z]:/.test(relative)) {
    return { kind: 'escape', reason: `refers to an absolute path "${relative}"; only files inside ${folderName} are read` };
  }
  const parts = relative.split(/[\\/]+/);
  if (parts.includes('..')) return { kind: 'escape', reason: `refers to "${relative}", which leaves ${folderName}` };
  const realFolder = await files.realPath(folder);
  let real: string;
  try {
    real = await files.realPath(path.resolve(realFolder, ...parts));
  } catch {
    return { kind: 'missing', reason: `refers to "${relative}", which does not exist` };
  }
  const inside = real === realFolder || real.startsWith(realFolder + path.sep);
  if (!inside) return { kind: 'escape', reason: `"${relative}" is a link that leads outside ${folderName}` };
  return { kind: 'inside', path: real };
}

/**
 * Resolves `relative` against `folder` and returns the real path, or throws `path-escape` if it is absolute,
 * climbs out with `..`, or is (or passes through) a link leading outside the folder, and `missing-weights` when
 * it does not exist. `modelFile` and `where` only label the error.
 */
export async function resolveInsideFolder(files: FileAccess, folder: string, relative: string, modelFile: string, where: string): Promise<string> {
  const resolved = await containedPath(files, folder, relative, "the model's folder");
  if (resolved.kind === 'inside') return resolved.path;
  throw new ModelReadError(resolved.kind === 'escape' ? 'path-escape' : 'missing-weights', modelFile, where, resolved.reason);
}
