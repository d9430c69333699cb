// The analysed state of every model the extension has looked at: one engine outcome (a report, or a typed failure)
// per model file, produced in the background runtime by the engine's auditFile (the CLI's own use case) and shared by
// diagnostics, hovers, CodeLens, the layer document and the status bar, which all listen to `onDidChange`.
import * as vscode from 'vscode';
import { createIgnoreMatcher, formatVerdict, type LeakLintConfig, type ModelFailure, type ModelReport } from '../engine';
import { RuntimeError, type RuntimeClient } from './runtime';
import { configFor } from './settings';

export type Analysis =
  | { kind: 'report'; uri: vscode.Uri; report: ModelReport; config: LeakLintConfig }
  /** The model could not be read or analysed. */
  | { kind: 'failed'; uri: vscode.Uri; failure: ModelFailure; config?: LeakLintConfig };

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
  async refreshSettings(uri: vscode.Uri) {
    const analysis = this.get(uri);
    if (analysis?.kind !== 'report') return;
    this.results.set(uri.toString(), { ...analysis, config: await configFor(uri) });
    this.changed.fire(uri);
  }

  /**
   * Analyses one model with the configuration of its workspace folder. Returns undefined when the file is ignored
   * or the run was cancelled; throws ConfigError on an invalid configuration.
   */
  async analyse(uri: vscode.Uri, token?: vscode.CancellationToken, onProgress?: ProgressListener): Promise<Analysis | undefined> {
    const config = await configFor(uri);
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
      const outcome = await this.runtime.audit({ file: uri.fsPath, config, trusted: vscode.workspace.isTrusted }, { onProgress, cancellation: token });
      if (outcome.kind === 'report') {
        const { report } = outcome;
        analysis = { kind: 'report', uri, report, config };
        this.output.appendLine(`${uri.fsPath}: ${formatVerdict(report.model)}: ${report.model.verdict.headline} (${report.seconds.toFixed(1)} s)`);
      } else {
        // Deleted while it was analysed (or waiting): no finding about a file that is gone.
        if (!(await exists(uri))) {
          this.forget(uri);
          return undefined;
        }
        analysis = { kind: 'failed', uri, failure: outcome.failure, config };
        this.output.appendLine(`${uri.fsPath}: ${outcome.failure.where ? `${outcome.failure.where}: ` : ''}${outcome.failure.reason}`);
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.output.appendLine(`${uri.fsPath}: ${message}`);
      if (token?.isCancellationRequested || (e instanceof RuntimeError && e.code === 'cancelled')) return undefined;
      // Deleted while it was analysed (or waiting): no finding about a file that is gone.
      if (!(await exists(uri))) {
        this.forget(uri);
        return undefined;
      }
      // The worker crashed or ran out of time on this model: a failure to analyse it, as the CLI would report.
      const failure: ModelFailure = { file: uri.fsPath, code: 'invalid-model', where: '', reason: `the analysis did not finish: ${message}` };
      analysis = { kind: 'failed', uri, failure, config };
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

/** "models/cnn6.onnx (node 3 (conv1)): the file is truncated" — how a failure reads in the editor. */
export function failureMessage(failure: ModelFailure): string {
  return `${failure.where ? `${failure.where}: ` : ''}${failure.reason}`;
}
