// What a command needs from the process, passed in so that commands stay testable and exit codes stay in one place.
import { addInputShape, displayPath, type InputShapeOption, type ModelFailure } from '../engine';

/** 0: clean; 1: findings at or above --fail-on; 2: a model could not be read, or bad usage. */
export const ExitCode = { clean: 0, findings: 1, error: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

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
export function formatFailure(failure: ModelFailure, cwd: string): string {
  const where = failure.where ? ` (${failure.where})` : '';
  return `leaklint: ${displayPath(failure.file, cwd)}${where}: ${failure.reason}`;
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
