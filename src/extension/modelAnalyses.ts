// The analysed state of every model the extension has looked at: one engine report (or read error) per model file,
// produced in the background runtime and shared by diagnostics, hovers, CodeLens, the layer document and the
// status bar, which all listen to `onDidChange`.
import * as vscode from 'vscode';
import { createIgnoreMatcher, type LeakLintConfig } from '../engine/config';
import type { ModelReport } from '../engine/analysis/types';
import { RuntimeError, type RuntimeClient } from './runtime';
import { settingsFor } from './settings';

export type Analysis =
  | {
      kind: 'report';
      uri: vscode.Uri;
      report: ModelReport;
      config: LeakLintConfig;
      /** model.json only: the text the offsets in the report refer to (read when the analysis started). */
      text?: string;
    }
  /** The model could not be read or analysed; `code` is a ModelReadError code or 'internal'. */
  | { kind: 'failed'; uri: vscode.Uri; code: string; message: string };

export type ProgressListener = (done: number, total: number, label: string) => void;

export class ModelAnalyses implements vscode.Disposable {
  private readonly results = new Map<string, Analysis>();
  /** Per model: the last analysis started, so that a newer one waits for it (the runtime works one at a time). */
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly runtime: RuntimeClient,
    private readonly output: vscode.OutputChannel,
  ) {}

  get(uri: vscode.Uri): Analysis | undefined {
    return this.results.get(uri.toString());
  }

  all(): Analysis[] {
    return [...this.results.values()];
  }

  forget(uri: vscode.Uri) {
    if (this.results.delete(uri.toString())) this.changed.fire(uri);
  }

  /**
   * Applies changed `failOn` / `rules` settings without re-analysing: they only decide which findings are shown and
   * how (the engine's collectIssues and diagnosticSeverity read them from the stored config).
   */
  refreshSettings(uri: vscode.Uri) {
    const analysis = this.get(uri);
    if (analysis?.kind !== 'report') return;
    this.results.set(uri.toString(), { ...analysis, config: settingsFor(uri) });
    this.changed.fire(uri);
  }

  /**
   * Analyses one model with the settings of its workspace folder. Returns undefined when the file is ignored by
   * `leaklint.ignore` or the run was cancelled; throws ConfigError on invalid settings.
   */
  async analyse(uri: vscode.Uri, token?: vscode.CancellationToken, onProgress?: ProgressListener): Promise<Analysis | undefined> {
    const config = settingsFor(uri);
    if (createIgnoreMatcher(config.ignore, config.baseDir)(uri.fsPath)) {
      this.forget(uri);
      return undefined;
    }
    const key = uri.toString();
    const previous = this.running.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.run(uri, config, token, onProgress));
    this.running.set(key, run);
    try {
      return await run;
    } finally {
      if (this.running.get(key) === run) this.running.delete(key);
    }
  }

  private async run(uri: vscode.Uri, config: LeakLintConfig, token?: vscode.CancellationToken, onProgress?: ProgressListener) {
    if (token?.isCancellationRequested) return undefined;
    let analysis: Analysis;
    try {
      const text = uri.path.toLowerCase().endsWith('.json') ? new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)) : undefined;
      const request = {
        file: uri.fsPath,
        read: { inputShape: config.inputShape, externalData: vscode.workspace.isTrusted },
        analysis: { thresholds: config.thresholds },
      };
      const report = await this.runtime.analyse(request, { onProgress, cancellation: token });
      analysis = { kind: 'report', uri, report, config, text };
      this.output.appendLine(
        `${uri.fsPath}: model risk ${report.model.risk.toFixed(2)} (${report.model.severity}), COPA ${report.model.copaIndex}, ${report.seconds.toFixed(1)} s`,
      );
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.output.appendLine(`${uri.fsPath}: ${message}`);
      if (token?.isCancellationRequested) return undefined;
      // Deleted while it was analysed (or waiting): no finding about a file that is gone.
      if (!(await exists(uri))) {
        this.forget(uri);
        return undefined;
      }
      const code = e instanceof RuntimeError ? e.code : e instanceof vscode.FileSystemError ? 'unreadable' : 'internal';
      analysis = { kind: 'failed', uri, code, message };
    }
    this.results.set(uri.toString(), analysis);
    this.changed.fire(uri);
    return analysis;
  }

  dispose() {
    this.changed.dispose();
  }
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  return vscode.workspace.fs.stat(uri).then(
    () => true,
    () => false,
  );
}
