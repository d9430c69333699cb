// The "LeakLint" commands. Each resolves its model from its argument (Explorer context menu, the LeakLint view, code
// actions, command links) or the active editor, and goes through the shared analyses so that every view updates
// together.
import * as path from 'path';
import * as vscode from 'vscode';
import { ConfigError, formatOptionsOf, formatReport, REPORT_EXTENSIONS, reportInputOf, type AuditOutcome, type ReportFormat } from '../engine';
import { Commands, type CommandId } from '../shared/commands';
import { activeModelUri } from './activeModel';
import { disableRule, ignoreModel } from './configEdits';
import { layerDocumentUri } from './layerDocument';
import type { LayerViews } from './layerViews';
import type { Analysis, ModelAnalyses } from './modelAnalyses';
import { showReadOnlyDocument } from './readOnlyDocuments';
import { exportSettingsFor, type ExportSettings } from './settings';
import type { SharedGradients } from './reconstructionPanel';
import type { RuntimeClient } from './runtime';
import { workspaceModels } from './workspaceScan';

export interface AuditSummary {
  analysed: number;
  failed: number;
  ignored: number;
  cancelled: boolean;
}

export interface CommandContext {
  analyses: ModelAnalyses;
  runtime: RuntimeClient;
  layerViews: LayerViews;
  log: vscode.LogOutputChannel;
  /** The reconstruction view of a model; with `shared`, of the attack on gradients a client shared. */
  showReconstructions(model: vscode.Uri, shared?: SharedGradients): unknown;
}

/** Model URIs arrive as Uri objects (menus, code actions), strings (command links in hovers) or revived JSON. */
function toUri(value: unknown): vscode.Uri | undefined {
  if (value instanceof vscode.Uri) return value;
  if (typeof value === 'string' && value) return vscode.Uri.parse(value);
  if (value && typeof value === 'object' && 'scheme' in value && 'path' in value) return vscode.Uri.from(value as vscode.Uri);
  return undefined;
}

/** What a command is about: positional arguments, or a LeakLint view row (its first argument). */
interface Target {
  model?: vscode.Uri;
  nodeId?: string;
  ruleId?: string;
  fix?: number;
}

function fromTreeNode(arg: unknown): Target | undefined {
  if (!arg || typeof arg !== 'object' || !('type' in arg) || !('model' in arg)) return undefined;
  const node = arg as { model: unknown; nodeId?: string; ruleId?: string; fix?: number };
  return { model: toUri(node.model), nodeId: node.nodeId, ruleId: node.ruleId, fix: node.fix };
}

function errorText(e: unknown): string {
  return e instanceof ConfigError ? `LeakLint settings: ${e.message}` : `LeakLint: ${e instanceof Error ? e.message : String(e)}`;
}

/** The command handlers; registerCommands binds one to each id of the command table. */
class LeakLintCommands {
  constructor(private readonly ctx: CommandContext) {}

  private fail(e: unknown): undefined {
    this.ctx.log.error(errorText(e));
    void vscode.window.showErrorMessage(errorText(e));
    return undefined;
  }

  /** The argument, else the active model, else one the user picks among the workspace's models. */
  async modelFrom(arg: unknown): Promise<vscode.Uri | undefined> {
    const model = fromTreeNode(arg)?.model ?? toUri(arg) ?? activeModelUri(this.ctx.analyses, this.ctx.layerViews);
    return model ?? this.pickModel();
  }

  async pickModel(): Promise<vscode.Uri | undefined> {
    const models = await workspaceModels(this.ctx.runtime);
    if (!models.length) {
      void vscode.window.showInformationMessage('LeakLint: no model (.onnx or TF.js model.json) in this workspace.');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      models.map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(path.dirname(uri.fsPath)), uri })),
      { title: 'LeakLint: which model?' },
    );
    return picked?.uri;
  }

  /** Every model of the workspace, up to date: unchanged models come from the cache, the others from the worker. */
  async auditWorkspace(): Promise<AuditSummary> {
    const summary: AuditSummary = { analysed: 0, failed: 0, ignored: 0, cancelled: false };
    const candidates = await workspaceModels(this.ctx.runtime);
    this.ctx.log.info(`Audit Workspace: ${candidates.length} model(s)`);
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'LeakLint audit', cancellable: true },
      async (progress, token) => {
        for (const [i, file] of candidates.entries()) {
          if (token.isCancellationRequested) break;
          progress.report({ message: `${path.basename(file.fsPath)} (${i + 1}/${candidates.length})`, increment: 100 / candidates.length });
          try {
            const analysis = await this.ctx.analyses.analyse(file, { token });
            if (!analysis) summary.ignored++;
            else if (analysis.kind === 'failed') summary.failed++;
            else summary.analysed++;
          } catch (e) {
            return void this.fail(e);
          }
        }
        summary.cancelled = token.isCancellationRequested;
      },
    );
    return summary;
  }

  /** Analyses the model again now, even when the cache has it. */
  async auditCurrentModel(arg?: unknown): Promise<Analysis | undefined> {
    const model = await this.modelFrom(arg);
    if (!model) return undefined;
    try {
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `LeakLint: ${path.basename(model.fsPath)}`, cancellable: true },
        (progress, token) =>
          this.ctx.analyses.analyse(model, {
            token,
            force: true,
            onProgress: (done, total, label) => progress.report({ message: `${label} (${done}/${total})` }),
          }),
      );
    } catch (e) {
      return this.fail(e);
    }
  }

  async openLayerDocument(arg?: unknown) {
    const model = await this.modelFrom(arg);
    if (!model) return undefined;
    const document = await vscode.workspace.openTextDocument(layerDocumentUri(model));
    return vscode.window.showTextDocument(document, { preview: true, viewColumn: vscode.ViewColumn.Active });
  }

  /** Writes the report of every analysed model; `target` (for tests and scripts) skips the save dialog. */
  async exportReport(formatArg?: unknown, targetArg?: unknown): Promise<vscode.Uri | undefined> {
    const all = this.ctx.analyses.all();
    if (!all.length) {
      void vscode.window.showInformationMessage('LeakLint: nothing analysed yet; run "LeakLint: Audit Workspace" first.');
      return undefined;
    }
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    let exportSettings: ExportSettings = { sarif: {} };
    try {
      if (folder) exportSettings = await exportSettingsFor(folder);
    } catch (e) {
      return this.fail(e);
    }
    // Every format of `leaklint audit --format`, the usual ones first.
    const formats: ReportFormat[] = ['json', 'sarif', 'markdown', 'html', 'table'];
    const format =
      typeof formatArg === 'string' && formats.includes(formatArg as ReportFormat)
        ? (formatArg as ReportFormat)
        : ((await vscode.window.showQuickPick(formats, { title: 'LeakLint: report format' })) as ReportFormat | undefined);
    if (!format) return undefined;
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
    // leaklint.export.*: `audit --sarif-root <folder> --sarif-min-level <level> --baseline <report.json>`.
    const input = {
      ...reportInputOf(outcomes, config, folder?.fsPath ?? process.cwd()),
      ...(exportSettings.baseline ? { baseline: exportSettings.baseline } : {}),
    };
    const text = formatReport(format, input, { ...formatOptionsOf(process.env, new Date()), sarif: exportSettings.sarif });
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(text));
    this.ctx.log.info(`exported a ${format} report of ${all.length} model(s) to ${target.fsPath}`);
    if (!toUri(targetArg)) void vscode.window.showInformationMessage(`LeakLint: report written to ${target.fsPath}`);
    return target;
  }

  /** A layer finding (or, without a layer, the model-level finding) explained in a read-only Markdown document. */
  async explainLayer(modelArg?: unknown, nodeArg?: unknown) {
    const target = fromTreeNode(modelArg) ?? { model: toUri(modelArg), nodeId: typeof nodeArg === 'string' ? nodeArg : undefined };
    const model = target.model ?? activeModelUri(this.ctx.analyses, this.ctx.layerViews);
    if (!model) return undefined;
    return showReadOnlyDocument({ kind: 'explain', model: model.toString(), node: target.nodeId });
  }

  async showProposedChange(modelArg?: unknown, nodeArg?: unknown, fixArg?: unknown) {
    const target = fromTreeNode(modelArg) ?? { model: toUri(modelArg), nodeId: typeof nodeArg === 'string' ? nodeArg : undefined, fix: Number(fixArg ?? 0) };
    if (!target.model || target.nodeId === undefined) return undefined;
    return showReadOnlyDocument({ kind: 'fix', model: target.model.toString(), node: target.nodeId, fix: target.fix ?? 0 });
  }

  /** The reader's view of the model, before any analysis (the same text as `leaklint layers`), read-only. */
  async showLayers(arg?: unknown) {
    const model = await this.modelFrom(arg);
    return model && showReadOnlyDocument({ kind: 'layers', model: model.toString() });
  }

  async openInLayerView(modelArg?: unknown, nodeArg?: unknown) {
    const target = fromTreeNode(modelArg) ?? { model: toUri(modelArg), nodeId: typeof nodeArg === 'string' ? nodeArg : undefined };
    const model = target.model ?? (await this.modelFrom(undefined));
    if (!model) return undefined;
    await this.ctx.layerViews.open(model, target.nodeId);
    return model;
  }

  async ignore(arg?: unknown) {
    const model = fromTreeNode(arg)?.model ?? toUri(arg);
    if (!model) return undefined;
    try {
      const edit = await ignoreModel(model);
      this.ctx.log.info(`ignore ${model.fsPath}: ${edit.description}`);
      return edit;
    } catch (e) {
      return this.fail(e);
    }
  }

  async ruleOff(ruleArg?: unknown, modelArg?: unknown) {
    const node = fromTreeNode(ruleArg);
    const ruleId = node?.ruleId ?? (typeof ruleArg === 'string' ? ruleArg : undefined);
    const model = node?.model ?? toUri(modelArg) ?? activeModelUri(this.ctx.analyses, this.ctx.layerViews) ?? vscode.workspace.workspaceFolders?.[0]?.uri;
    if (!ruleId || !model) return undefined;
    try {
      const edit = await disableRule(ruleId, model);
      this.ctx.log.info(`rule ${ruleId} off: ${edit.description}`);
      return edit;
    } catch (e) {
      return this.fail(e);
    }
  }

  async restartRuntime() {
    this.ctx.runtime.restart(); // the running job fails; the next one starts a fresh process
    void vscode.window.showInformationMessage('LeakLint: background runtime restarted.');
    return true;
  }

  async showReconstructions(arg?: unknown) {
    const model = await this.modelFrom(arg);
    return model && this.ctx.showReconstructions(model);
  }

  /**
   * The attack on gradients a client shared (`leaklint attack <model> --gradients <file> [--image <file>]`): the model
   * (argument, active model or a pick), the .safetensors file and optionally the original image to measure against,
   * each from a file picker. With the gradients as an argument (tests, scripts) no picker opens: the image is the third
   * argument, or none.
   */
  async reconstructFromGradients(modelArg?: unknown, gradientsArg?: unknown, imageArg?: unknown) {
    const model = await this.modelFrom(modelArg);
    if (!model) return undefined;
    const given = toUri(gradientsArg);
    const gradients =
      given ??
      (await pickFile(`LeakLint: gradients shared for ${path.basename(model.fsPath)} (.safetensors, one tensor per parameter)`, 'Reconstruct', {
        Safetensors: ['safetensors'],
      }));
    if (!gradients) return undefined;
    let image = given ? toUri(imageArg) : undefined;
    if (!given) {
      const choice = await vscode.window.showQuickPick(
        [
          { label: 'Choose the original image…', description: 'measure the reconstruction against it (PSNR, SSIM)', choose: true },
          { label: 'No original image', description: 'show the reconstruction only', choose: false },
        ],
        { title: 'LeakLint: the image these gradients came from' },
      );
      if (!choice) return undefined;
      if (choice.choose) {
        image = await pickFile('LeakLint: the original image', 'Measure Against', { Images: ['png', 'jpg', 'jpeg'] });
        if (!image) return undefined;
      }
    }
    return this.ctx.showReconstructions(model, { gradients, ...(image ? { image } : {}) });
  }

  async openModel() {
    const model = await this.pickModel();
    if (model) await vscode.commands.executeCommand('vscode.open', model);
    return model;
  }
}

/** One file from an open dialog, starting in the first workspace folder. */
async function pickFile(title: string, openLabel: string, filters: Record<string, string[]>): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title,
    openLabel,
    filters,
    canSelectMany: false,
    canSelectFiles: true,
    canSelectFolders: false,
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0];
}

type Handler = (...args: unknown[]) => unknown;

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  const c = new LeakLintCommands(ctx);
  // Every id of the command table has its handler (the type says so).
  const handlers: Record<CommandId, Handler> = {
    [Commands.auditWorkspace]: () => c.auditWorkspace(),
    [Commands.auditCurrentModel]: (arg) => c.auditCurrentModel(arg),
    [Commands.openLayerDocument]: (arg) => c.openLayerDocument(arg),
    [Commands.exportReport]: (format, target) => c.exportReport(format, target),
    [Commands.explainLayer]: (model, node) => c.explainLayer(model, node),
    [Commands.restartRuntime]: () => c.restartRuntime(),
    [Commands.showReconstructions]: (arg) => c.showReconstructions(arg),
    [Commands.reconstructFromGradients]: (model, gradients, image) => c.reconstructFromGradients(model, gradients, image),
    [Commands.showLayers]: (arg) => c.showLayers(arg),
    [Commands.openInLayerView]: (model, node) => c.openInLayerView(model, node),
    [Commands.ignoreModel]: (arg) => c.ignore(arg),
    [Commands.disableRule]: (rule, model) => c.ruleOff(rule, model),
    [Commands.showProposedChange]: (model, node, fix) => c.showProposedChange(model, node, fix),
    [Commands.openModel]: () => c.openModel(),
  };
  return Object.entries(handlers).map(([id, handler]) => vscode.commands.registerCommand(id, handler));
}
