// Opening a model file: the checks every reader shares (exists, regular, not empty, under the size limit), and
// reads that turn every failure into a ModelReadError.
import { ModelReadError } from '../errors';
import { decodeUtf8, isFileAccessError, type FileAccess } from '../files/fileAccess';
import type { ResolvedReadOptions } from '../options';

/** Stats `file` (absolute) and refuses missing, non-regular, empty and over-limit files. Returns the size in bytes. */
export async function checkModelFile(files: FileAccess, file: string, opts: ResolvedReadOptions): Promise<number> {
  let stat;
  try {
    stat = await files.stat(file);
  } catch {
    throw new ModelReadError('invalid-model', file, '', 'file not found');
  }
  if (stat.kind !== 'file') throw new ModelReadError('invalid-model', file, '', 'not a regular file');
  if (stat.size === 0) throw new ModelReadError('empty-file', file, '', 'the file is empty');
  if (stat.size > opts.maxFileBytes) {
    throw new ModelReadError('too-large', file, '', `the file is ${stat.size} bytes, over the ${opts.maxFileBytes}-byte limit`);
  }
  return stat.size;
}

/** The checked file's bytes; a file that cannot be read (permissions, I/O error, gone since) is 'invalid-model'. */
export async function readModelBytes(files: FileAccess, file: string, opts: ResolvedReadOptions): Promise<Uint8Array> {
  await checkModelFile(files, file, opts);
  try {
    return await files.readFile(file, opts.maxFileBytes);
  } catch (e) {
    if (isFileAccessError(e) && e.code === 'too-large') throw new ModelReadError('too-large', file, '', e.reason);
    if (isFileAccessError(e) && e.code === 'not-found') throw new ModelReadError('invalid-model', file, '', 'file not found');
    const reason = isFileAccessError(e) ? e.reason : e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new ModelReadError('invalid-model', file, '', `cannot read the file: ${reason}`);
  }
}

/** The checked file as UTF-8 text. A file too long for a JavaScript string is 'too-large'. */
export async function readModelText(files: FileAccess, file: string, opts: ResolvedReadOptions): Promise<string> {
  const bytes = await readModelBytes(files, file, opts);
  try {
    return decodeUtf8(bytes);
  } catch (e) {
    if (e instanceof RangeError || (e as NodeJS.ErrnoException | undefined)?.code === 'ERR_STRING_TOO_LONG') {
      throw new ModelReadError('too-large', file, '', 'the file is too large to read as text');
    }
    throw e;
  }
}
