// The VS Code adapter, thin over the engine: the background runtime (a child process) reads, analyses and attacks
// models; the host maps its reports to diagnostics, code actions, hovers, CodeLens, a layer document, the LeakLint
// view, a status bar item and webviews. Every model of the workspace is analysed in the background on start-up, and
// outcomes are cached in the extension's storage. Static analysis runs in untrusted workspaces too; the attack
// (native onnxruntime-node, sample images) needs a trusted one.
import * as vscode from 'vscode';
import { looksLikeTfjsModel } from '../engine';
import { EXTENSION_SETTING_KEYS, SETTING_KEYS } from '../shared/commands';
import { AnalysisCache } from './analysisCache';
import { CODE_ACTION_SELECTOR, LeakLintCodeActionProvider } from './codeActions';
import { registerCommands } from './commands';
import { diagnosticUris, toDiagnostics } from './diagnostics';
import { ModelDecorations } from './fileDecorations';
import { LAYER_DOCUMENT_SCHEME, LayerDocumentProvider } from './layerDocument';
import { LAYER_SELECTOR, LayerCodeLensProvider, LayerHoverProvider } from './layerInsights';
import { LayerViews } from './layerViews';
import { ModelAnalyses } from './modelAnalyses';
import { ModelsView } from './modelsView';
import { ModelWatcher } from './modelWatcher';
import { READ_ONLY_SCHEME, ReadOnlyDocumentProvider } from './readOnlyDocuments';
import { ReconstructionPanels } from './reconstructionPanel';
import { bundledSamplesFolder, createRuntimeClient, type ObservedRuntime } from './runtime';
import { VerdictStatusItem } from './statusBar';
import { WorkspaceScan, type ScanSummary } from './workspaceScan';

let runtime: ObservedRuntime | undefined;

/** What tests (and other extensions) can inspect; returned by activate(). */
export interface LeakLintApi {
  analyses: ModelAnalyses;
  statusBarText(): string | undefined;
  /** Process id of the background runtime's current child, if one runs (tests kill it to check recovery). */
  runtimePid(): number | undefined;
  /** Jobs asked of the worker since activation, by job name. */
  workerJobs(): Record<string, number>;
  /** Resolves when the cached outcomes are shown (before any worker job), with the models restored and the job counts then. */
  restored: Promise<{ models: vscode.Uri[]; workerJobs: Record<string, number> }>;
  /** The background scan running now, or the last one. */
  scanFinished(): Promise<ScanSummary | undefined>;
  /** The layer a model's Layer View shows selected (as the webview reports it). */
  selectedLayer(model: vscode.Uri): string | undefined;
  /** The LeakLint view's tree. */
  modelsView: ModelsView;
}

export function activate(context: vscode.ExtensionContext): LeakLintApi {
  const log = vscode.window.createOutputChannel('LeakLint', { log: true });
  const diagnostics = vscode.languages.createDiagnosticCollection('leaklint');
  runtime = createRuntimeClient(context, log);
  const cache = new AnalysisCache(context.storageUri ?? context.globalStorageUri, log);
  const analyses = new ModelAnalyses(runtime, cache, log, bundledSamplesFolder(context));
  const layerViews = new LayerViews(context, analyses, log);
  const statusBar = new VerdictStatusItem(analyses, layerViews);
  const panels = new ReconstructionPanels(context, runtime, analyses, log);
  const layerDocuments = new LayerDocumentProvider(analyses);
  const readOnlyDocuments = new ReadOnlyDocumentProvider(analyses, runtime);
  const codeLenses = new LayerCodeLensProvider(analyses);
  const modelsView = new ModelsView(analyses);
  const scan = new WorkspaceScan(analyses, runtime, log);
  const decorations = new ModelDecorations(analyses);
  const reportError = (e: unknown) => log.error(e instanceof Error ? e.message : String(e));
  /** Every analysed model again: cheap for those whose settings and files are unchanged (the cache answers). */
  const recheckAll = () => {
    for (const { uri } of analyses.all()) analyses.analyse(uri).catch(reportError);
  };

  context.subscriptions.push(
    log,
    diagnostics,
    analyses,
    layerViews,
    statusBar,
    panels,
    layerDocuments,
    readOnlyDocuments,
    codeLenses,
    modelsView,
    scan,
    decorations,
    { dispose: () => runtime?.dispose() },
    analyses.onDidChange((model) => {
      const analysis = analyses.get(model);
      if (!analysis) for (const uri of diagnosticUris(model)) diagnostics.delete(uri);
      else for (const { uri, diagnostics: list } of toDiagnostics(analysis).values()) diagnostics.set(uri, list);
    }),
    vscode.window.registerFileDecorationProvider(decorations),
    vscode.workspace.registerTextDocumentContentProvider(LAYER_DOCUMENT_SCHEME, layerDocuments),
    vscode.workspace.registerTextDocumentContentProvider(READ_ONLY_SCHEME, readOnlyDocuments),
    vscode.languages.registerHoverProvider(LAYER_SELECTOR, new LayerHoverProvider(analyses)),
    vscode.languages.registerCodeLensProvider(LAYER_SELECTOR, codeLenses),
    vscode.languages.registerCodeActionsProvider(CODE_ACTION_SELECTOR, new LeakLintCodeActionProvider(analyses), LeakLintCodeActionProvider.metadata),
    new ModelWatcher(
      analyses,
      reportError,
      () => {
        recheckAll();
        void scan.scan();
      },
      log,
    ),
    ...registerCommands({ analyses, runtime, layerViews, log, showReconstructions: (model, shared) => panels.show(model, shared) }),
    // Granting trust lets the worker open ONNX external data: analyses made without it are redone.
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      log.info('workspace trusted: analysing again with external data');
      recheckAll();
      void scan.scan();
    }),
    // A model opened in an editor is analysed at once (if the scan has not done it already).
    vscode.workspace.onDidOpenTextDocument((document) => analyseIfModel(document)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration('leaklint')) return;
      // Settings that change an analysis are part of the cache key; failOn and rules only change how it is shown.
      recheckAll();
      if (['ignore', 'scanWorkspace', 'configFile'].some((key) => event.affectsConfiguration(`leaklint.${key}`))) void scan.scan();
    }),
  );
  for (const document of vscode.workspace.textDocuments) analyseIfModel(document);

  /** A model opened as text: .onnx by name, model.json recognised from the text already in memory (the CLI's sniff). */
  function analyseIfModel(document: vscode.TextDocument) {
    const { uri } = document;
    if (uri.scheme !== 'file' || analyses.get(uri)) return;
    const lower = uri.path.toLowerCase();
    if (lower.endsWith('.json')) {
      const head = document.getText(new vscode.Range(document.positionAt(0), document.positionAt(8192))).replace(/^\uFEFF/, '');
      if (!looksLikeTfjsModel(head)) return;
    } else if (!lower.endsWith('.onnx')) return;
    analyses.analyse(uri).catch(reportError);
  }

  // Cached outcomes first (no worker job), then the background scan.
  const restored = scan.restore().then((models) => ({ models, workerJobs: runtime?.jobCounts() ?? {} }));
  void restored.then(() => scan.scan());
  log.info(`LeakLint ${context.extension.packageJSON.version} active; settings: ${[...SETTING_KEYS, ...EXTENSION_SETTING_KEYS].join(', ')}`);
  return {
    analyses,
    statusBarText: () => statusBar.text,
    runtimePid: () => runtime?.pid,
    workerJobs: () => runtime?.jobCounts() ?? {},
    restored,
    scanFinished: () => scan.finished(),
    selectedLayer: (model) => {
      const view = layerViews.viewsOf(model).find((v) => v.shownSelection !== undefined);
      const analysis = analyses.get(model);
      return view && analysis?.kind === 'report' ? analysis.report.layers.find((f) => f.index === view.shownSelection)?.nodeId : undefined;
    },
    modelsView,
  };
}

export function deactivate() {
  runtime?.dispose();
}
