// Which files are models: named files as given, folders searched recursively for ONNX files and TF.js model.json
// files. The CLI's audit and the extension's workspace scan both use it, so both pick the same files.
import * as path from 'path';
import { isFileAccessError, type DirectoryEntry, type FileAccess } from '../files/fileAccess';
import { isModelFile } from '../readers/detect';

const SKIPPED_FOLDERS = new Set(['node_modules']);

export interface Discovery {
  /** Absolute paths in the order of the arguments, each folder's contents sorted by name; no duplicates. */
  files: string[];
  /** Folders that could not be listed, with the reason. */
  unreadableFolders: { folder: string; reason: string }[];
  /** Given paths where nothing is (absolute): a mistyped path, which a CI run must not take as "no findings". */
  missing: string[];
  /** Given folders (absolute) in which no model file was found, or that the ignore globs skip entirely. */
  empty: string[];
}

/**
 * Expands paths (absolute, or relative to `cwd`). A named file is always returned (reading it reports what is wrong
 * with it), a named path where nothing is goes to `missing`; inside folders only ONNX files and TF.js model.json files
 * are picked, node_modules and dot folders are skipped, and links to folders are not followed (they can form cycles).
 */
export async function discoverModelFiles(files: FileAccess, paths: readonly string[], cwd: string, isIgnored: (file: string) => boolean): Promise<Discovery> {
  const found = new Set<string>();
  const unreadableFolders: Discovery['unreadableFolders'] = [];
  const missing: string[] = [];
  const empty: string[] = [];

  let seen = 0;
  const walk = async (folder: string): Promise<void> => {
    let entries: DirectoryEntry[];
    try {
      entries = await files.list(folder);
    } catch (e) {
      unreadableFolders.push({ folder, reason: isFileAccessError(e) ? e.reason : String(e) });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (isIgnored(full)) continue;
      if (entry.kind === 'directory') {
        if (!entry.isLink && !entry.name.startsWith('.') && !SKIPPED_FOLDERS.has(entry.name)) await walk(full);
      } else if (entry.kind === 'file' && (await isModelFile(files, full))) {
        found.add(full);
        seen++;
      }
    }
  };

  for (const given of paths) {
    const abs = path.resolve(cwd, given);
    const kind = await files.stat(abs).then(
      (s) => s.kind,
      (e: unknown) => (isFileAccessError(e) && e.code === 'not-found' ? 'missing' : 'other'),
    );
    if (kind === 'missing') missing.push(abs);
    else if (isIgnored(abs)) empty.push(abs);
    else if (kind === 'directory') {
      const before = seen;
      await walk(abs);
      if (seen === before && !unreadableFolders.some((u) => u.folder === abs)) empty.push(abs);
    } else found.add(abs);
  }
  return { files: [...found], unreadableFolders, missing, empty };
}
