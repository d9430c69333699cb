// What a command needs from the process, passed in so that commands stay testable and exit codes stay in one place.
import * as path from 'path';
import { isModelReadError, ModelReadError } from '../engine/errors';
import { addInputShape, type InputShapeOption } from '../engine/options';
import { displayPath } from '../engine/reports/format';
import type { ToolInfo } from '../engine/reports/input';
import packageJson from '../../package.json';

/** 0: clean; 1: findings at or above --fail-on; 2: a model could not be read, or bad usage. */
export const ExitCode = { clean: 0, findings: 1, error: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const TOOL: ToolInfo = {
  name: 'leaklint',
  version: packageJson.version,
  informationUri: 'https://github.com/leaklint/leaklint',
};

export interface CliContext {
  cwd: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Progress lines are shown on an interactive terminal only (or with --progress). */
  stderrIsTTY: boolean;
  stderrColumns?: number;
}

/** A problem that ends the run with one line on stderr and exit code 2: bad usage, an unwritable --out, ... */
export class CliError extends Error {
  override name = 'CliError';
}

/** "leaklint: models/bad.onnx (node 3 (conv1)): the file is truncated" */
export function formatReadError(error: ModelReadError, cwd: string): string {
  const where = error.where ? ` (${error.where})` : '';
  return `leaklint: ${displayPath(error.file, cwd)}${where}: ${error.reason}`;
}

/**
 * Any error thrown while reading or analysing `file`, as a ModelReadError: readers throw those for bad files, and
 * anything else (a bug, or a file that trips one) must still be reported per file rather than end the run.
 */
export function asReadError(file: string, error: unknown, stage: 'reading' | 'analysing'): ModelReadError {
  if (isModelReadError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ModelReadError('invalid-model', path.resolve(file), '', `unexpected error while ${stage} the model: ${message}`);
}

/**
 * Adds one --input-shape value ("1,3,32,32", or "name=1,3,48,192" for a named input) to the previous ones; throws
 * CliError on anything but positive integers ("1,3,x"), or on two shapes for one input.
 */
export function parseShape(text: string, previous?: InputShapeOption): InputShapeOption {
  try {
    return addInputShape(previous, text);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}
