// Which files `leaklint audit` looks at: named files as given, folders searched recursively for model files.
import * as fs from 'fs';
import * as path from 'path';
import { isModelFile } from '../engine/readers/detect';

const SKIPPED_FOLDERS = new Set(['node_modules']);

export interface Discovery {
  /** Absolute paths in the order of the arguments, each folder's contents sorted by name; no duplicates. */
  files: string[];
  /** Folders that could not be listed, with the reason. */
  unreadableFolders: { folder: string; reason: string }[];
}

/**
 * Expands the command-line paths. A named file is always returned (reading it reports what is wrong with it); inside
 * folders only ONNX files and TF.js model.json files are picked, and node_modules and dot folders are skipped.
 */
export function discoverModelFiles(paths: readonly string[], cwd: string, isIgnored: (file: string) => boolean): Discovery {
  const found = new Set<string>();
  const unreadableFolders: Discovery['unreadableFolders'] = [];

  const walk = (folder: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(folder, { withFileTypes: true });
    } catch (e) {
      unreadableFolders.push({ folder, reason: (e as NodeJS.ErrnoException).code ?? String(e) });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (isIgnored(full)) continue;
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.') && !SKIPPED_FOLDERS.has(entry.name)) walk(full);
      } else if ((entry.isFile() || isLinkToFile(full)) && isModelFile(full)) {
        found.add(full);
      }
      // Links to folders are not followed: they can form cycles.
    }
  };

  for (const given of paths) {
    const abs = path.resolve(cwd, given);
    if (isIgnored(abs)) continue;
    if (isDirectory(abs)) walk(abs);
    else found.add(abs);
  }
  return { files: [...found], unreadableFolders };
}

function isDirectory(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}

function isLinkToFile(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink() && fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
