// The VS Code adapter, thin over the engine: the background runtime (a child process) reads, analyses and attacks
// models; the host maps its reports to diagnostics, hovers, CodeLens, a layer document, a status bar item and
// webviews. Static analysis runs in untrusted workspaces too; the attack (native onnxruntime-node, sample images)
// needs a trusted one.
import * as path from 'path';
import * as vscode from 'vscode';
import { isModelFile } from '../engine/readers';
import { registerCommands } from './commands';
import { toDiagnostics } from './diagnostics';
import { LAYER_DOCUMENT_SCHEME, LayerDocumentProvider } from './layerDocument';
import { LAYER_SELECTOR, LayerCodeLensProvider, LayerHoverProvider } from './layerInsights';
import { LAYER_VIEW_TYPE, LayerTableEditorProvider } from './layerTableEditor';
import { ModelAnalyses } from './modelAnalyses';
import { ModelWatcher } from './modelWatcher';
import { ReconstructionPanels } from './reconstructionPanel';
import { createRuntimeClient, type RuntimeClient } from './runtime';
import { SecurityScoreItem } from './statusBar';

let runtime: RuntimeClient | undefined;

/** What tests (and other extensions) can inspect; returned by activate(). */
export interface LeakLintApi {
  analyses: ModelAnalyses;
  statusBarText(): string | undefined;
  /** Process id of the background runtime's current child, if one runs (tests kill it to check recovery). */
  runtimePid(): number | undefined;
}

export function activate(context: vscode.ExtensionContext): LeakLintApi {
  const output = vscode.window.createOutputChannel('LeakLint');
  const diagnostics = vscode.languages.createDiagnosticCollection('leaklint');
  runtime = createRuntimeClient(context);
  const analyses = new ModelAnalyses(runtime, output);
  const statusBar = new SecurityScoreItem(analyses);
  const panels = new ReconstructionPanels(context, runtime, analyses, output);
  const layerDocuments = new LayerDocumentProvider(analyses);
  const codeLenses = new LayerCodeLensProvider(analyses);
  const reportError = (e: unknown) => output.appendLine(`error: ${e instanceof Error ? e.message : String(e)}`);

  context.subscriptions.push(
    output,
    diagnostics,
    analyses,
    statusBar,
    panels,
    layerDocuments,
    codeLenses,
    { dispose: () => runtime?.dispose() },
    analyses.onDidChange((uri) => {
      const analysis = analyses.get(uri);
      diagnostics.set(uri, analysis ? toDiagnostics(analysis) : []);
    }),
    vscode.workspace.registerTextDocumentContentProvider(LAYER_DOCUMENT_SCHEME, layerDocuments),
    vscode.languages.registerHoverProvider(LAYER_SELECTOR, new LayerHoverProvider(analyses)),
    vscode.languages.registerCodeLensProvider(LAYER_SELECTOR, codeLenses),
    new ModelWatcher(analyses, reportError),
    vscode.window.registerCustomEditorProvider(LAYER_VIEW_TYPE, new LayerTableEditorProvider(context, analyses, output), {
      webviewOptions: { enableFindWidget: true },
    }),
    ...registerCommands({ analyses, runtime, output, showReconstructions: (model) => panels.show(model) }),
    vscode.commands.registerCommand('leaklint.showLayers', async (uri?: vscode.Uri) => {
      // The reader's view of the model, before any analysis (the same text as `leaklint layers`).
      const target = uri ?? vscode.window.activeTextEditor?.document.uri;
      if (!target) return vscode.window.showInformationMessage('LeakLint: open a model file first.');
      try {
        const baseDir = vscode.workspace.getWorkspaceFolder(target)?.uri.fsPath ?? path.dirname(target.fsPath);
        const text = await runtime!.layers({ file: target.fsPath, read: { externalData: vscode.workspace.isTrusted }, baseDir });
        const doc = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
        return vscode.window.showTextDocument(doc, { preview: true });
      } catch (e) {
        return vscode.window.showErrorMessage(`LeakLint: ${e instanceof Error ? e.message : String(e)}`);
      }
    }),
    // Granting trust lets the worker open ONNX external data: analyses made without it are redone.
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      for (const { uri } of analyses.all()) analyses.analyse(uri).catch(reportError);
    }),
    // A model.json opened in an editor is analysed at once; others wait for an audit or a change on disk.
    vscode.workspace.onDidOpenTextDocument((document) => analyseIfModel(document.uri)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      for (const { uri } of analyses.all()) {
        // Thresholds, input shape and ignore change the analysis; failOn and rules only how its findings are shown.
        const reanalyse = ['thresholds', 'inputShape', 'ignore'].some((key) => event.affectsConfiguration(`leaklint.${key}`, uri));
        const reshow = ['failOn', 'rules'].some((key) => event.affectsConfiguration(`leaklint.${key}`, uri));
        try {
          if (reanalyse) analyses.analyse(uri).catch(reportError);
          else if (reshow) analyses.refreshSettings(uri);
        } catch (e) {
          reportError(e); // invalid settings: shown when the user runs a command
        }
      }
    }),
  );
  for (const document of vscode.workspace.textDocuments) analyseIfModel(document.uri);

  function analyseIfModel(uri: vscode.Uri) {
    if (uri.scheme !== 'file' || analyses.get(uri) || !uri.path.toLowerCase().endsWith('.json') || !isModelFile(uri.fsPath)) return;
    analyses.analyse(uri).catch(reportError);
  }

  return { analyses, statusBarText: () => statusBar.text, runtimePid: () => runtime?.pid };
}

export function deactivate() {
  runtime?.dispose();
}
