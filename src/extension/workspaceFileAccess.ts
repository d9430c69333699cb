// FileAccess over VS Code's workspace.fs, for what the extension host reads itself: the workspace's
// configuration file and the baseline report Export Report reads. Models (and the discovery that sniffs .json files)
// are read by the background worker.
import * as vscode from 'vscode';
import { FileAccessError, type FileAccess, type FileKind } from '../engine';

const MAX_WHOLE_READ_BYTES = 1024 * 1024;

export const workspaceFileAccess: FileAccess = {
  async readFile(file, maxBytes) {
    const uri = vscode.Uri.file(file);
    if (maxBytes !== undefined) {
      const { size } = await stat(uri, file);
      if (size > maxBytes) throw new FileAccessError('too-large', file, `the file is ${size} bytes, over the ${maxBytes}-byte limit`);
    }
    return vscode.workspace.fs.readFile(uri).then(undefined, (e: unknown) => Promise.reject(accessError(file, e)));
  },
  // workspace.fs has no ranged read: small files are read whole and cut; larger ones are the worker's to read.
  async readRange(file, offset, length) {
    const bytes = await this.readFile(file, MAX_WHOLE_READ_BYTES);
    return bytes.subarray(offset, offset + length);
  },
  async stat(file) {
    const s = await stat(vscode.Uri.file(file), file);
    return { kind: kindOf(s.type), size: s.size };
  },
  async list(folder) {
    const entries = await vscode.workspace.fs.readDirectory(vscode.Uri.file(folder)).then(undefined, (e: unknown) => Promise.reject(accessError(folder, e)));
    return entries.map(([name, type]) => ({ name, kind: kindOf(type), isLink: (type & vscode.FileType.SymbolicLink) !== 0 }));
  },
  // workspace.fs does not resolve links: the path as it is, once it is known to exist (as Node's realpath would check).
  async realPath(file) {
    await stat(vscode.Uri.file(file), file);
    return file;
  },
};

async function stat(uri: vscode.Uri, file: string): Promise<vscode.FileStat> {
  return vscode.workspace.fs.stat(uri).then(undefined, (e: unknown) => Promise.reject(accessError(file, e)));
}

function kindOf(type: vscode.FileType): FileKind {
  if (type & vscode.FileType.File) return 'file';
  if (type & vscode.FileType.Directory) return 'directory';
  return 'other';
}

function accessError(file: string, error: unknown): FileAccessError {
  if (error instanceof vscode.FileSystemError && error.code === 'FileNotFound') return new FileAccessError('not-found', file, 'file not found');
  if (error instanceof vscode.FileSystemError && error.code === 'NoPermissions') return new FileAccessError('denied', file, 'permission denied');
  return new FileAccessError('io', file, error instanceof Error ? error.message : String(error));
}
