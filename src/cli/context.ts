// What a command needs from the process, passed in so that commands stay testable and exit codes stay in one place.
import { displayPath, type ModelFailure } from '../engine';

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

/** "1,3,32,32" → [1, 3, 32, 32]; throws CliError on anything but positive integers. */
export function parseShape(text: string): number[] {
  const dims = text.split(/[,x×\s]+/).filter((part) => part.length > 0);
  const shape = dims.map(Number);
  if (shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new CliError(`"${text}" is not a shape; write positive integers separated by commas, e.g. 1,3,32,32`);
  }
  return shape;
}
