// How the engine reads files: an interface the adapters implement (Node's fs for the CLI and the background worker,
// VS Code's workspace.fs where the extension host reads), so that the engine itself never touches a file system.
// Writing files is the adapters' job: engine functions return strings and bytes.

export type FileKind = 'file' | 'directory' | 'other';

export interface FileStat {
  /** What the path is after following links. */
  kind: FileKind;
  size: number;
}

export interface DirectoryEntry {
  name: string;
  /** What the entry is after following a link ('other' for a broken link, a socket, a FIFO...). */
  kind: FileKind;
  /** The entry itself is a symbolic link (discovery does not follow links to folders: they can form cycles). */
  isLink: boolean;
}

export interface FileAccess {
  /**
   * The whole file (following links: the user named it). Rejects with FileAccessError; `maxBytes` refuses larger
   * files before reading them. Never blocks on a FIFO.
   */
  readFile(file: string, maxBytes?: number): Promise<Uint8Array>;
  /**
   * `length` bytes from `offset`, fewer at the end of the file; never blocks on a FIFO. `followLinks: false` refuses
   * a final symbolic link: files a model refers to are resolved and checked first, then read by their real path.
   */
  readRange(file: string, offset: number, length: number, options?: { followLinks?: boolean }): Promise<Uint8Array>;
  /** Follows links. Rejects with FileAccessError 'not-found' when nothing is there. */
  stat(file: string): Promise<FileStat>;
  /** The entries of a folder, in no particular order. */
  list(folder: string): Promise<DirectoryEntry[]>;
  /** The path with every link resolved (identity on file systems without links). */
  realPath(file: string): Promise<string>;
}

export type FileAccessErrorCode = 'not-found' | 'not-a-file' | 'too-large' | 'denied' | 'io';

/** A file operation that failed; `reason` is one line fit for a message ("file not found", "permission denied"). */
export class FileAccessError extends Error {
  constructor(
    readonly code: FileAccessErrorCode,
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'FileAccessError';
  }
}

export function isFileAccessError(error: unknown): error is FileAccessError {
  return error instanceof FileAccessError;
}

/** UTF-8 text of bytes, without a byte-order mark's decoding surprises (the mark is kept as U+FEFF). */
export function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
}
