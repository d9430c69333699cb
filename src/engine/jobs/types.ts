// What every use case takes and gives back. Outcomes are plain data (they cross the worker's process boundary by
// structured clone): a model that cannot be read is a typed failure in the outcome, never a thrown message string.
import * as path from 'path';
import { isModelReadError, ModelReadError, type ReadErrorCode } from '../errors';
import type { FileAccess } from '../files/fileAccess';
import type { MatchingProgress } from '../attack/types';

/** What a step of progress may carry besides its count: where gradient matching is (loss, current image). */
export type ProgressDetail = MatchingProgress;

export type ProgressListener = (done: number, total: number, label: string, detail?: ProgressDetail) => void;

export interface JobContext {
  /** How the engine reads files (Node's fs in the CLI and the worker). */
  files: FileAccess;
  onProgress?: ProgressListener;
  /** Jobs that await between steps stop with an AbortError when it fires. */
  signal?: AbortSignal;
}

/** A model file that could not be read or analysed: where, and why, in one line. */
export interface ModelFailure {
  file: string;
  code: ReadErrorCode;
  /** The place in the file ("node 3 (conv1)", "weightsManifest[0].paths[1]"), or ''. */
  where: string;
  reason: string;
}

export type Failed = { kind: 'failure'; failure: ModelFailure };

/**
 * Any error thrown while reading or analysing `file`, as a ModelFailure: readers throw ModelReadErrors for bad files,
 * and anything else (a bug, or a file that trips one) must still be reported per file rather than end the run.
 */
export function toModelFailure(file: string, error: unknown, stage: 'reading' | 'analysing' | 'attacking'): ModelFailure {
  if (isModelReadError(error)) return { file: error.file, code: error.code, where: error.where, reason: error.reason };
  const message = error instanceof Error ? error.message : String(error);
  return { file: path.resolve(file), code: 'invalid-model', where: '', reason: `unexpected error while ${stage} the model: ${message}` };
}

/** The failure as the error readers throw (for callers that report through ModelReadError). */
export function failureError(failure: ModelFailure): ModelReadError {
  return new ModelReadError(failure.code, failure.file, failure.where, failure.reason);
}
