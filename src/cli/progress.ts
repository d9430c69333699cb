// Progress on stderr while models are analysed: one self-overwriting line on a terminal, plain lines with --progress.
import { displayPath } from '../engine';
import type { CliContext } from './context';

const CLEAR_LINE = '\r\x1b[2K';
/** Terminal updates at most this often, so that fast layers do not flood a slow terminal. */
const MIN_UPDATE_MS = 100;

export class Progress {
  private readonly interactive: boolean;
  private readonly enabled: boolean;
  private lastUpdate = 0;
  private current = '';

  constructor(
    private readonly context: CliContext,
    requested: boolean,
  ) {
    this.interactive = context.stderrIsTTY;
    this.enabled = requested || context.stderrIsTTY;
  }

  model(index: number, total: number, file: string): void {
    if (!this.enabled) return;
    this.current = `[${index + 1}/${total}] ${displayPath(file, this.context.cwd)}`;
    if (this.interactive) this.show(this.current, true);
    else this.context.stderr(`leaklint: ${this.current}\n`);
  }

  layer(done: number, total: number, layer: string): void {
    if (!this.enabled || !this.interactive) return;
    this.show(`${this.current}: layer ${done + 1}/${total} ${layer}`, false);
  }

  /** A bar for multi-step jobs (the attack's images): "[####······] 4/10 attacking chelsea". */
  steps(done: number, total: number, label: string): void {
    if (!this.enabled) return;
    const width = 20;
    const filled = total > 0 ? Math.round((done / total) * width) : 0;
    const line = `${this.current ? `${this.current}: ` : ''}[${'#'.repeat(filled)}${'·'.repeat(width - filled)}] ${done}/${total} ${label}`;
    if (this.interactive) this.show(line, false);
    else if (done === total || label.startsWith('attacking')) this.context.stderr(`leaklint: ${line}\n`);
  }

  /** Removes the progress line before anything else is printed. */
  clear(): void {
    if (this.interactive && this.lastUpdate > 0) this.context.stderr(CLEAR_LINE);
    this.lastUpdate = 0;
  }

  private show(line: string, force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastUpdate < MIN_UPDATE_MS) return;
    this.lastUpdate = now;
    // A line longer than the terminal wraps, and the next update could then only clear its last row.
    const width = Math.max((this.context.stderrColumns ?? 80) - 1, 20);
    this.context.stderr(CLEAR_LINE + (line.length > width ? line.slice(0, width - 3) + '...' : line));
  }
}
