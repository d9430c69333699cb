// The "LeakLint" commands. Each resolves its model from its argument (Explorer context menu, command links) or the
// active editor, and goes through the shared analyses so that every view updates together.
import * as path from 'path';
import * as vscode from 'vscode';
import { ConfigError } from '../engine/config';
import { ModelReadError, type ReadErrorCode } from '../engine/errors';
import { isModelFile } from '../engine/readers';
import { formatReport, REPORT_EXTENSIONS, type ReportFormat, type ReadFailure } from '../engine/reports';
import { activeModelUri } from './activeModel';
import { TOOL } from './diagnostics';
import { layerDocumentUri } from './layerDocument';
import { COMMAND_EXPLAIN_LAYER, COMMAND_SHOW_RECONSTRUCTIONS, layerMarkdown } from './layerInsights';
import type { Analysis, ModelAnalyses } from './modelAnalyses';
import type { RuntimeClient } from './runtime';
import { COMMAND_OPEN_LAYER_DOCUMENT } from './statusBar';

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
    const models = await workspaceModels();
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
    const candidates = await workspaceModels();
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
    const config = all.find((a) => a.kind === 'report');
    const failures: ReadFailure[] = all
      .filter((a): a is Extract<Analysis, { kind: 'failed' }> => a.kind === 'failed')
      .map((a) => ({ file: a.uri.fsPath, error: readFailureOf(a) }));
    const text = formatReport(
      format,
      {
        tool: TOOL,
        reports: all.flatMap((a) => (a.kind === 'report' ? [a.report] : [])),
        failures,
        rules: config?.kind === 'report' ? config.config.rules : undefined,
        baseDir: folder?.fsPath,
      },
      { generatedAt: new Date() },
    );
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

  const restartRuntime = async () => {
    ctx.runtime.restart(); // the running job fails; the next one starts a fresh process
    ctx.output.appendLine('background runtime restarted');
    void vscode.window.showInformationMessage('LeakLint: background runtime restarted.');
    return true;
  };

  return [
    vscode.commands.registerCommand('leaklint.auditWorkspace', auditWorkspace),
    vscode.commands.registerCommand('leaklint.auditCurrentModel', auditCurrentModel),
    vscode.commands.registerCommand(COMMAND_OPEN_LAYER_DOCUMENT, openLayerDocument),
    vscode.commands.registerCommand('leaklint.exportReport', exportReport),
    vscode.commands.registerCommand(COMMAND_EXPLAIN_LAYER, explainLayer),
    vscode.commands.registerCommand('leaklint.restartRuntime', restartRuntime),
    vscode.commands.registerCommand(COMMAND_SHOW_RECONSTRUCTIONS, async (arg?: unknown) => {
      const model = await modelFrom(arg);
      return model && ctx.showReconstructions(model);
    }),
  ];
}

/** Model files of the workspace: .onnx, and .json files whose content is a TF.js model (as the CLI finds them). */
async function workspaceModels(): Promise<vscode.Uri[]> {
  return (await vscode.workspace.findFiles('**/*.{onnx,json}', '**/node_modules/**')).filter((f) => isModelFile(f.fsPath));
}

/** A failed analysis as the reports' ReadFailure (its code is the engine's ReadErrorCode, or 'internal'). */
function readFailureOf(analysis: Extract<Analysis, { kind: 'failed' }>): ModelReadError {
  const file = analysis.uri.fsPath;
  const reason = analysis.message.startsWith(file) ? analysis.message.slice(file.length).replace(/^[^:]*:\s*/, '') : analysis.message;
  return new ModelReadError(analysis.code as ReadErrorCode, file, '', reason);
}
