// Progress on stderr while models are analysed: one self-overwriting line on a terminal, a plain line per model
// otherwise (CI logs), nothing with --quiet. Paths and layer names are made plain text before they are shown.
import * as path from 'path';
import { displayPath, plainText } from '../engine';
import { printLine, type CliContext } from './context';

const CLEAR_LINE = '\r\x1b[2K';
/** Terminal updates at most this often, so that fast layers do not flood a slow terminal. */
const MIN_UPDATE_MS = 100;
const ELLIPSIS = '...';

export class Progress {
  private readonly interactive: boolean;
  private readonly enabled: boolean;
  private lastUpdate = 0;
  /** The model line: "[2/5] " and the model's path (plain text). */
  private prefix = '';
  private file = '';

  constructor(
    private readonly context: CliContext,
    { quiet }: { quiet: boolean },
  ) {
    this.enabled = !quiet;
    this.interactive = this.enabled && context.stderrIsTTY;
  }

  /** A model starts; `stage` names what is done to it when it is not the analysis ("attack"). */
  model(index: number, total: number, file: string, stage?: string): void {
    if (!this.enabled) return;
    this.prefix = `[${index + 1}/${total}] ${stage ? `${stage}: ` : ''}`;
    this.file = plainText(displayPath(file, this.context.cwd));
    if (this.interactive) this.show('', true);
    else printLine(this.context, this.prefix + this.file);
  }

  /**
   * A model goes through an extra stage that logs need not list (the identifiability rank): shown on a terminal only,
   * so that CI logs keep one line per model.
   */
  terminalOnly(index: number, total: number, file: string, stage: string): void {
    if (!this.interactive) return;
    this.model(index, total, file, stage);
  }

  layer(done: number, total: number, layer: string): void {
    if (!this.interactive) return;
    this.show(`: layer ${done + 1}/${total} ${plainText(layer)}`, false);
  }

  /** A bar for multi-step jobs (the attack's images): "[####······] 4/10 attacking chelsea". */
  steps(done: number, total: number, label: string): void {
    if (!this.enabled) return;
    const width = 20;
    const filled = total > 0 ? Math.round((done / total) * width) : 0;
    const bar = `[${'#'.repeat(filled)}${'·'.repeat(width - filled)}] ${done}/${total} ${plainText(label)}`;
    if (this.interactive) this.show(`: ${bar}`, false);
    else if (done === total || label.startsWith('attacking')) printLine(this.context, `${this.prefix}${this.file}: ${bar}`);
  }

  /** Removes the progress line before anything else is printed. */
  clear(): void {
    if (this.interactive && this.lastUpdate > 0) this.context.stderr(CLEAR_LINE);
    this.lastUpdate = 0;
  }

  private show(suffix: string, force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastUpdate < MIN_UPDATE_MS) return;
    this.lastUpdate = now;
    // A line longer than the terminal wraps, and the next update could then only clear its last row.
    const width = Math.max((this.context.stderrColumns ?? 80) - 1, 20);
    this.context.stderr(CLEAR_LINE + fitProgressLine(this.prefix, this.file, suffix, width));
  }
}

/**
 * "[2/5] " + path + ": layer 3/9 conv_2" in at most `width` characters: the path is cut in the middle (its folders),
 * keeping the file name; when even that does not fit, the layer part is cut at its end first.
 */
export function fitProgressLine(prefix: string, file: string, suffix: string, width: number): string {
  const whole = prefix + file + suffix;
  if (whole.length <= width) return whole;
  const name = file.slice(file.lastIndexOf('/') + 1);
  const pathRoom = width - prefix.length - suffix.length;
  if (pathRoom >= Math.min(file.length, name.length + ELLIPSIS.length + 1)) return prefix + cutMiddle(file, pathRoom) + suffix;
  const shownFile = cutMiddle(file, Math.max(width - prefix.length, 1));
  const suffixRoom = width - prefix.length - shownFile.length;
  const shownSuffix = suffixRoom > ELLIPSIS.length + 2 ? suffix.slice(0, suffixRoom - ELLIPSIS.length) + ELLIPSIS : '';
  return (prefix + shownFile + shownSuffix).slice(0, width);
}

/** "test/fix.../cnn6/model.onnx": the start and the file name, the middle cut; a file name too long keeps its end. */
export function cutMiddle(file: string, width: number): string {
  if (file.length <= width) return file;
  const name = path.posix.basename(file);
  const tail = file.length > name.length ? `/${name}` : name;
  if (tail.length + ELLIPSIS.length >= width) return (ELLIPSIS + tail.slice(-(width - ELLIPSIS.length))).slice(-width);
  return file.slice(0, width - ELLIPSIS.length - tail.length) + ELLIPSIS + tail;
}
