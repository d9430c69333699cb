// What a command needs from the process, passed in so that commands stay testable and exit codes stay in one place.
import * as path from 'path';
import { addInputShape, displayPath, plainText, type InputShapeOption, type ModelFailure } from '../engine';

/** 0: clean; 1: findings at or above --fail-on; 2: a model could not be read, or bad usage. */
export const ExitCode = { clean: 0, findings: 1, error: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface CliContext {
  cwd: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Progress is one self-overwriting line on an interactive terminal, a plain line per model otherwise. */
  stderrIsTTY: boolean;
  stderrColumns?: number;
}

/** A problem that ends the run with one line on stderr and exit code 2: bad usage, an unwritable --out, ... */
export class CliError extends Error {
  override name = 'CliError';
}

/**
 * One line on stderr, "leaklint: <message>". Every message the CLI prints goes through here: names from a model file
 * or a folder (and reasons that quote them) are made plain text, so that they cannot add lines or escape sequences.
 */
export function printLine(context: Pick<CliContext, 'stderr'>, message: string): void {
  context.stderr(`leaklint: ${plainText(message)}\n`);
}

/** "models/bad.onnx (node 3 (conv1)): the file is truncated" */
export function describeFailure(failure: ModelFailure, cwd: string): string {
  const where = failure.where ? ` (${failure.where})` : '';
  return `${displayPath(failure.file, cwd)}${where}: ${failure.reason}`;
}

/**
 * What an error message about `file` says beyond the path: a read error's message starts with the model's own
 * absolute path (the caller prints it once, relative), another file's path is shown relative to the working folder.
 */
export function reasonAbout(file: string, message: string, cwd: string): string {
  if (message.startsWith(file)) {
    const rest = message.slice(file.length);
    return rest.startsWith(': ') ? rest.slice(2) : rest.trimStart();
  }
  const inside = cwd.endsWith(path.sep) ? cwd : cwd + path.sep;
  return message.startsWith(inside) ? message.slice(inside.length) : message;
}

/** "models/x.onnx (node 3): reason" or "models/x.onnx: reason": the model's path once, whatever the message. */
export function describeModelError(file: string, message: string, cwd: string): string {
  const shown = displayPath(file, cwd);
  if (message.startsWith(`${file} (`)) return `${shown}${message.slice(file.length)}`;
  return `${shown}: ${reasonAbout(file, message, cwd)}`;
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
