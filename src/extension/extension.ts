// The VS Code adapter, thin over the engine: the background runtime (a child process) reads, analyses and attacks
// models; the host maps its reports to diagnostics, hovers, CodeLens, a layer document, a status bar item and
// webviews. Static analysis runs in untrusted workspaces too; the attack (native onnxruntime-node, sample images)
// needs a trusted one.
import * as vscode from 'vscode';
import { looksLikeTfjsModel } from '../engine';
import { Views } from '../shared/commands';
import { registerCommands } from './commands';
import { toDiagnostics } from './diagnostics';
import { LAYER_DOCUMENT_SCHEME, LayerDocumentProvider } from './layerDocument';
import { LAYER_SELECTOR, LayerCodeLensProvider, LayerHoverProvider } from './layerInsights';
import { LayerTableEditorProvider } from './layerTableEditor';
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
    vscode.window.registerCustomEditorProvider(Views.layerView, new LayerTableEditorProvider(context, analyses, output), {
      webviewOptions: { enableFindWidget: true },
    }),
    ...registerCommands({ analyses, runtime, output, showReconstructions: (model) => panels.show(model) }),
    // Granting trust lets the worker open ONNX external data: analyses made without it are redone.
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      for (const { uri } of analyses.all()) analyses.analyse(uri).catch(reportError);
    }),
    // A model.json opened in an editor is analysed at once; others wait for an audit or a change on disk.
    vscode.workspace.onDidOpenTextDocument((document) => analyseIfModel(document)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      for (const { uri } of analyses.all()) {
        // Thresholds, input shape and ignore change the analysis; failOn and rules only how its findings are shown.
        const reanalyse = ['thresholds', 'inputShape', 'ignore'].some((key) => event.affectsConfiguration(`leaklint.${key}`, uri));
        const reshow = ['failOn', 'rules'].some((key) => event.affectsConfiguration(`leaklint.${key}`, uri));
        try {
          if (reanalyse) analyses.analyse(uri).catch(reportError);
          else if (reshow) analyses.refreshSettings(uri).catch(reportError);
        } catch (e) {
          reportError(e); // invalid settings: shown when the user runs a command
        }
      }
    }),
  );
  for (const document of vscode.workspace.textDocuments) analyseIfModel(document);

  /** A model.json opened in an editor: recognised from the text already in memory (the sniff the CLI makes). */
  function analyseIfModel(document: vscode.TextDocument) {
    const { uri } = document;
    if (uri.scheme !== 'file' || analyses.get(uri) || !uri.path.toLowerCase().endsWith('.json')) return;
    if (!looksLikeTfjsModel(document.getText(new vscode.Range(document.positionAt(0), document.positionAt(8192))).replace(/^\uFEFF/, ''))) return;
    analyses.analyse(uri).catch(reportError);
  }

  return { analyses, statusBarText: () => statusBar.text, runtimePid: () => runtime?.pid };
}

export function deactivate() {
  runtime?.dispose();
}
