// The "LeakLint" commands. Each resolves its model from its argument (Explorer context menu, command links) or the
// active editor, and goes through the shared analyses so that every view updates together.
import * as path from 'path';
import * as vscode from 'vscode';
import {
  ConfigError,
  formatOptionsOf,
  formatReport,
  REPORT_EXTENSIONS,
  reportInputOf,
  writeLayersTable,
  type AuditOutcome,
  type ReportFormat,
} from '../engine';
import { Commands } from '../shared/commands';
import { activeModelUri } from './activeModel';
import { layerDocumentUri } from './layerDocument';
import { layerMarkdown } from './layerInsights';
import { failureMessage, type Analysis, type ModelAnalyses } from './modelAnalyses';
import type { RuntimeClient } from './runtime';
import { configFor } from './settings';

export interface AuditSummary {
  analysed: number;
  failed: number;
  ignored: number;
  cancelled: boolean;
}

export interface CommandContext {
  analyses: ModelAnalyses;
  runtime: RuntimeClient;
  output: vscode.OutputChannel;
  showReconstructions(model: vscode.Uri): unknown;
}

/** Model URIs arrive as Uri objects (menus) or strings (command links in hovers). */
function toUri(value: unknown): vscode.Uri | undefined {
  if (value instanceof vscode.Uri) return value;
  if (typeof value === 'string' && value) return vscode.Uri.parse(value);
  return undefined;
}

function errorText(e: unknown): string {
  return e instanceof ConfigError ? `LeakLint settings: ${e.message}` : `LeakLint: ${e instanceof Error ? e.message : String(e)}`;
}

// eslint-disable-next-line max-lines-per-function -- one registration per command; the command table of issue 9 replaces this list
export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  const { analyses } = ctx;
  /** The argument, else the active model, else one the user picks among the workspace's models. */
  const modelFrom = async (arg: unknown): Promise<vscode.Uri | undefined> => {
    const model = toUri(arg) ?? activeModelUri(analyses);
    if (model) return model;
    const models = await workspaceModels(ctx.runtime);
    if (!models.length) {
      void vscode.window.showInformationMessage('LeakLint: no model (.onnx or TF.js model.json) in this workspace.');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      models.map((uri) => ({ label: vscode.workspace.asRelativePath(uri), uri })),
      { title: 'LeakLint: which model?' },
    );
    return picked?.uri;
  };

  const auditWorkspace = async (): Promise<AuditSummary> => {
    const summary: AuditSummary = { analysed: 0, failed: 0, ignored: 0, cancelled: false };
    const candidates = await workspaceModels(ctx.runtime);
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'LeakLint audit', cancellable: true },
      async (progress, token) => {
        for (const [i, file] of candidates.entries()) {
          if (token.isCancellationRequested) break;
          progress.report({ message: `${path.basename(file.fsPath)} (${i + 1}/${candidates.length})`, increment: 100 / candidates.length });
          try {
            const analysis = await analyses.analyse(file, token);
            if (!analysis) summary.ignored++;
            else if (analysis.kind === 'failed') summary.failed++;
            else summary.analysed++;
          } catch (e) {
            void vscode.window.showErrorMessage(errorText(e));
            return;
          }
        }
        summary.cancelled = token.isCancellationRequested;
      },
    );
    return summary;
  };

  const auditCurrentModel = async (arg?: unknown): Promise<Analysis | undefined> => {
    const model = await modelFrom(arg);
    if (!model) return undefined;
    try {
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `LeakLint: ${path.basename(model.fsPath)}`, cancellable: true },
        (progress, token) => analyses.analyse(model, token, (done, total, label) => progress.report({ message: `${label} (${done}/${total})` })),
      );
    } catch (e) {
      void vscode.window.showErrorMessage(errorText(e));
      return undefined;
    }
  };

  const openLayerDocument = async (arg?: unknown) => {
    const model = await modelFrom(arg);
    if (!model) return undefined;
    const document = await vscode.workspace.openTextDocument(layerDocumentUri(model));
    return vscode.window.showTextDocument(document, { preview: true, viewColumn: vscode.ViewColumn.Active });
  };

  /** Writes the report of every analysed model; `target` (for tests and scripts) skips the save dialog. */
  const exportReport = async (formatArg?: unknown, targetArg?: unknown): Promise<vscode.Uri | undefined> => {
    const all = analyses.all();
    if (!all.length) {
      void vscode.window.showInformationMessage('LeakLint: nothing analysed yet; run "LeakLint: Audit Workspace" first.');
      return undefined;
    }
    const formats: ReportFormat[] = ['json', 'sarif', 'markdown'];
    const format =
      typeof formatArg === 'string' && formats.includes(formatArg as ReportFormat)
        ? (formatArg as ReportFormat)
        : ((await vscode.window.showQuickPick(formats, { title: 'LeakLint: report format' })) as ReportFormat | undefined);
    if (!format) return undefined;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const target =
      toUri(targetArg) ??
      (await vscode.window.showSaveDialog({
        defaultUri: folder && vscode.Uri.joinPath(folder, `leaklint-report.${REPORT_EXTENSIONS[format]}`),
        filters: { [format.toUpperCase()]: [REPORT_EXTENSIONS[format]] },
      }));
    if (!target) return undefined;
    // The same writer as `leaklint audit --format`, over the findings and read failures shown in the Problems panel.
    const outcomes = all.map((a): AuditOutcome => (a.kind === 'report' ? { kind: 'report', report: a.report } : { kind: 'failure', failure: a.failure }));
    const config = all.find((a) => a.config)?.config ?? { rules: {} };
    const text = formatReport(format, reportInputOf(outcomes, config, folder?.fsPath ?? process.cwd()), formatOptionsOf(process.env, new Date()));
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(text));
    if (!toUri(targetArg)) void vscode.window.showInformationMessage(`LeakLint: report written to ${target.fsPath}`);
    return target;
  };

  const explainLayer = async (modelArg?: unknown, nodeId?: unknown) => {
    const model = toUri(modelArg);
    const analysis = model && analyses.get(model);
    const finding = analysis?.kind === 'report' ? analysis.report.layers.find((f) => f.nodeId === nodeId) : undefined;
    if (!model || analysis?.kind !== 'report' || !finding) return undefined;
    const document = await vscode.workspace.openTextDocument({ language: 'markdown', content: layerMarkdown(model, analysis.report, finding, false) });
    await vscode.commands.executeCommand('markdown.showPreview', document.uri).then(undefined, () => vscode.window.showTextDocument(document));
    return document;
  };

  /** The reader's view of the model, before any analysis (the same text as `leaklint layers`). */
  const showLayers = async (arg?: unknown) => {
    const model = await modelFrom(arg);
    if (!model) return undefined;
    try {
      const config = await configFor(model);
      const outcome = await ctx.runtime.layers({ file: model.fsPath, config, trusted: vscode.workspace.isTrusted });
      const text =
        outcome.kind === 'layers'
          ? writeLayersTable(outcome.listing, config.baseDir)
          : `LeakLint could not read ${model.fsPath} (${outcome.failure.code}): ${failureMessage(outcome.failure)}\n`;
      const document = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
      return vscode.window.showTextDocument(document, { preview: true });
    } catch (e) {
      void vscode.window.showErrorMessage(errorText(e));
      return undefined;
    }
  };

  const restartRuntime = async () => {
    ctx.runtime.restart(); // the running job fails; the next one starts a fresh process
    ctx.output.appendLine('background runtime restarted');
    void vscode.window.showInformationMessage('LeakLint: background runtime restarted.');
    return true;
  };

  return [
    vscode.commands.registerCommand(Commands.auditWorkspace, auditWorkspace),
    vscode.commands.registerCommand(Commands.auditCurrentModel, auditCurrentModel),
    vscode.commands.registerCommand(Commands.openLayerDocument, openLayerDocument),
    vscode.commands.registerCommand(Commands.exportReport, exportReport),
    vscode.commands.registerCommand(Commands.explainLayer, explainLayer),
    vscode.commands.registerCommand(Commands.restartRuntime, restartRuntime),
    vscode.commands.registerCommand(Commands.showReconstructions, async (arg?: unknown) => {
      const model = await modelFrom(arg);
      return model && ctx.showReconstructions(model);
    }),
    vscode.commands.registerCommand(Commands.showLayers, showLayers),
  ];
}

/**
 * Model files of the workspace, found by the engine's discovery in the background worker (the CLI's own rules: .onnx,
 * .json files whose content is a TF.js model, no node_modules or dot folders, each folder's leaklint.ignore).
 */
async function workspaceModels(runtime: RuntimeClient): Promise<vscode.Uri[]> {
  const found: vscode.Uri[] = [];
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    if (folder.uri.scheme !== 'file') continue;
    const config = await configFor(folder.uri);
    const discovery = await runtime.discover({ roots: [folder.uri.fsPath], ignore: config.ignore, baseDir: config.baseDir });
    found.push(...discovery.files.map((file) => vscode.Uri.file(file)));
  }
  return found;
}
