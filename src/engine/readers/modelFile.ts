// Opening a model file: the checks every reader shares (exists, regular, not empty, under the size limit) and a
// text read that turns every failure into a ModelReadError.
import * as fs from 'fs';
import { ModelReadError } from '../errors';
import type { ResolvedReadOptions } from '../options';

/** Stats `file` (absolute) and refuses missing, non-regular, empty and over-limit files. Returns the size in bytes. */
export function checkModelFile(file: string, opts: ResolvedReadOptions): number {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new ModelReadError('invalid-model', file, '', 'file not found');
  }
  if (!stat.isFile()) throw new ModelReadError('invalid-model', file, '', 'not a regular file');
  if (stat.size === 0) throw new ModelReadError('empty-file', file, '', 'the file is empty');
  if (stat.size > opts.maxFileBytes) {
    throw new ModelReadError('too-large', file, '', `the file is ${stat.size} bytes, over the ${opts.maxFileBytes}-byte limit`);
  }
  return stat.size;
}

/**
 * The checked file as UTF-8 text. A file too long for a JavaScript string is 'too-large'; a file that cannot be
 * read (permissions, I/O error, gone since the check) is 'invalid-model' with the system's reason.
 */
export function readModelText(file: string, opts: ResolvedReadOptions): string {
  checkModelFile(file, opts);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ERR_STRING_TOO_LONG' || e instanceof RangeError) {
      throw new ModelReadError('too-large', file, '', 'the file is too large to read as text');
    }
    if (code === 'ENOENT') throw new ModelReadError('invalid-model', file, '', 'file not found');
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new ModelReadError('invalid-model', file, '', `cannot read the file: ${message}`);
  }
}
