// Re-analysis when a model or one of its weight files changes on disk (saves from the editor included): model files
// (*.onnx, TF.js model.json), TF.js shards (*.bin) and ONNX external data (any file next to an analysed model).
// Debounced: converters write a model and its shards one after another. A changed configuration file (a folder's
// leaklint.config.json, or the file leaklint.configFile names) re-checks the workspace (its ignore globs and settings
// apply to every model of its folder).
import * as path from 'path';
import * as vscode from 'vscode';
import { isModelFile } from '../engine';
import { workspaceFileAccess } from './workspaceFileAccess';
import type { ModelAnalyses } from './modelAnalyses';
import { isConfigFile } from './settings';

export const REANALYSIS_DEBOUNCE_MS = 500;

export class ModelWatcher implements vscode.Disposable {
  private readonly watcher = vscode.workspace.createFileSystemWatcher('**/*');
  private readonly pending = new Map<string, vscode.Uri>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly analyses: ModelAnalyses,
    private readonly onError: (error: unknown) => void,
    private readonly onConfigFileChange: () => void,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.subscriptions = [
      this.watcher.onDidChange((uri) => void this.changed(uri)),
      this.watcher.onDidCreate((uri) => void this.changed(uri)),
      this.watcher.onDidDelete((uri) => this.deleted(uri)),
    ];
  }

  private isAnalysed(uri: vscode.Uri) {
    return this.analyses.get(uri) !== undefined;
  }

  private deleted(uri: vscode.Uri) {
    if (isConfigFile(uri)) return this.onConfigFileChange();
    if (!this.isAnalysed(uri) && !this.pending.has(uri.toString())) return void this.changed(uri); // a shard: re-analyse its models
    this.pending.delete(uri.toString());
    this.analyses.forget(uri);
  }

  private async changed(uri: vscode.Uri) {
    if (uri.scheme !== 'file' || uri.fsPath.split(path.sep).includes('node_modules')) return;
    if (isConfigFile(uri)) return this.onConfigFileChange();
    const folder = path.dirname(uri.fsPath);
    // The changed file itself, if it is a model; otherwise the analysed models it may belong to (same folder).
    const models =
      this.isAnalysed(uri) || (await isModelFile(workspaceFileAccess, uri.fsPath))
        ? [uri]
        : this.analyses
            .all()
            .map((a) => a.uri)
            .filter((m) => path.dirname(m.fsPath) === folder);
    for (const model of models) this.pending.set(model.toString(), model);
    if (!models.length) return;
    this.log.info(`${uri.fsPath} changed on disk: checking ${models.map((m) => path.basename(m.fsPath)).join(', ')} again`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), REANALYSIS_DEBOUNCE_MS);
  }

  private async flush() {
    const models = [...this.pending.values()];
    this.pending.clear();
    for (const model of models) {
      try {
        await this.analyses.analyse(model);
      } catch (e) {
        this.onError(e);
      }
    }
  }

  dispose() {
    clearTimeout(this.timer);
    this.subscriptions.forEach((s) => s.dispose());
    this.watcher.dispose();
  }
}
