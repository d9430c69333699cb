// Analysis without asking: on activation the cached outcomes of the workspace's models come back at once (no worker
// job: analysisCache.ts), then every model of the workspace (the CLI's discovery, in the worker, within `ignore`) is
// brought up to date in the background, models open in editors first, one at a time so that anything the user asks
// for waits behind one model at most. Progress shows in the status bar. `leaklint.scanWorkspace: false` limits all
// of this to the models open in editors.
import * as path from 'path';
import * as vscode from 'vscode';
import { LAYER_DOCUMENT_SCHEME, modelOfLayerDocument } from './layerDocument';
import type { ModelAnalyses } from './modelAnalyses';
import type { RuntimeClient } from './runtime';
import { configFor } from './settings';

export interface ScanSummary {
  /** Models found (by discovery, or open in editors when the scan is off). */
  models: number;
  /** Of those, how many needed the worker (changed, new, or never analysed). */
  analysed: number;
  failed: number;
  ignored: number;
  cancelled: boolean;
}

export const SCAN_SETTING = 'scanWorkspace';

export function workspaceScanEnabled(): boolean {
  return vscode.workspace.getConfiguration('leaklint').get<boolean>(SCAN_SETTING, true);
}

/** Models open in tabs (text, custom editor, layer document), the visible ones first. */
export function openModelUris(): vscode.Uri[] {
  const uris: vscode.Uri[] = [];
  const add = (uri: vscode.Uri | undefined) => {
    if (!uri) return;
    const model = uri.scheme === LAYER_DOCUMENT_SCHEME ? modelOfLayerDocument(uri) : uri;
    if (model.scheme === 'file' && !uris.some((u) => u.toString() === model.toString())) uris.push(model);
  };
  for (const editor of vscode.window.visibleTextEditors) add(editor.document.uri);
  const groups = vscode.window.tabGroups.all;
  for (const tab of groups.map((g) => g.activeTab)) add(uriOfTab(tab));
  for (const tab of groups.flatMap((g) => g.tabs)) add(uriOfTab(tab));
  return uris;
}

function uriOfTab(tab: vscode.Tab | undefined): vscode.Uri | undefined {
  const input = tab?.input;
  return input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom ? input.uri : undefined;
}

/** The workspace's model files, as `leaklint audit` finds them (in the worker: discovery reads .json heads). */
export async function workspaceModels(runtime: RuntimeClient): Promise<vscode.Uri[]> {
  const found: vscode.Uri[] = [];
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    if (folder.uri.scheme !== 'file') continue;
    const config = await configFor(folder.uri);
    const discovery = await runtime.discover({ roots: [folder.uri.fsPath], ignore: config.ignore, baseDir: config.baseDir });
    found.push(...discovery.files.map((file) => vscode.Uri.file(file)));
  }
  return found;
}

export class WorkspaceScan implements vscode.Disposable {
  private current: Promise<ScanSummary> | undefined;
  private rerun = false;
  private cancellation: vscode.CancellationTokenSource | undefined;
  private last: Promise<ScanSummary | undefined> = Promise.resolve(undefined);

  constructor(
    private readonly analyses: ModelAnalyses,
    private readonly runtime: RuntimeClient,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /**
   * Activation, step one: the cached outcomes of the workspace's models (or, with the scan off, of the open ones) that
   * still hold, without any worker job. Step two is scan().
   */
  async restore(): Promise<vscode.Uri[]> {
    const open = new Set(openModelUris().map((u) => u.toString()));
    const all = workspaceScanEnabled();
    return this.analyses
      .restore((model) => all || open.has(model.toString()))
      .catch((e) => {
        this.log.error(`restoring cached analyses failed: ${e instanceof Error ? e.message : String(e)}`);
        return [];
      });
  }

  /** The scan running now (or the last one); undefined before the first. */
  finished(): Promise<ScanSummary | undefined> {
    return this.current ?? this.last;
  }

  /** Scans now; asked while a scan runs, scans once more after it (settings or files changed meanwhile). */
  scan(): Promise<ScanSummary> {
    if (this.current) {
      this.rerun = true;
      return this.current;
    }
    const run = this.run().finally(() => {
      this.current = undefined;
      if (this.rerun) {
        this.rerun = false;
        void this.scan();
      }
    });
    this.current = run;
    this.last = run;
    return run;
  }

  private async run(): Promise<ScanSummary> {
    const summary: ScanSummary = { models: 0, analysed: 0, failed: 0, ignored: 0, cancelled: false };
    await vscode.commands.executeCommand('setContext', 'leaklint.scanning', true);
    const cancellation = (this.cancellation = new vscode.CancellationTokenSource());
    try {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'LeakLint' }, async (progress) => {
        const open = openModelUris();
        let models: vscode.Uri[];
        if (workspaceScanEnabled()) {
          progress.report({ message: 'finding models' });
          const found = await workspaceModels(this.runtime);
          // Open models first, in the order of openModelUris (visible editors first), then the rest by path.
          const rank = (u: vscode.Uri) => {
            const i = open.findIndex((o) => o.toString() === u.toString());
            return i < 0 ? open.length : i;
          };
          models = found.sort((a, b) => rank(a) - rank(b));
        } else {
          models = open.filter((u) => u.path.toLowerCase().endsWith('.onnx') || this.analyses.get(u));
        }
        summary.models = models.length;
        for (const [i, model] of models.entries()) {
          if (cancellation.token.isCancellationRequested) break;
          progress.report({ message: `analysing ${path.basename(model.fsPath)} (${i + 1}/${models.length})` });
          const audits = this.analyses.auditCount;
          try {
            const analysis = await this.analyses.analyse(model, { token: cancellation.token });
            if (!analysis) summary.ignored++;
            else if (analysis.kind === 'failed') summary.failed++;
            if (this.analyses.auditCount > audits) summary.analysed++;
          } catch (e) {
            this.log.error(`${model.fsPath}: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
      });
    } catch (e) {
      this.log.error(`workspace scan failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      summary.cancelled = cancellation.token.isCancellationRequested;
      cancellation.dispose();
      this.cancellation = undefined;
      await vscode.commands.executeCommand('setContext', 'leaklint.scanning', false);
    }
    this.log.info(
      `workspace scan: ${summary.models} model(s), ${summary.analysed} analysed by the worker, the others unchanged; ${summary.failed} unreadable${summary.cancelled ? ' (cancelled)' : ''}`,
    );
    return summary;
  }

  dispose() {
    this.cancellation?.cancel();
  }
}
