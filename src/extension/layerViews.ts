// The LeakLint Layer View: model verdict, metrics and the layer table coloured (and labelled) by risk. For .onnx it is
// the default editor (a read-only custom editor: users can still pick the text or hex editor); other models (TF.js
// model.json, which opens as text) get the same view in a webview panel. The runtime reads and analyses the file;
// the webview gets display rows only. A layer can be selected and revealed from outside (code actions, the LeakLint
// view, hovers): `open(model, nodeId)`.
import * as path from 'path';
import * as vscode from 'vscode';
import {
  describeFixEffect,
  formatCoverage,
  formatIndices,
  formatJacobianRank,
  formatNumber,
  formatRanks,
  formatShape,
  formatVerdict,
  jacobianRankOf,
  layerLabel,
  type ModelReport,
} from '../engine';
import { Commands, Views } from '../shared/commands';
import type { HostToView, TableRow, TableState, ViewToHost } from '../shared/webviewProtocol';
import { MANAGE_TRUST_COMMAND, RESTRICTED_ATTACK_REASON } from './layerInsights';
import { failureMessage, type ModelAnalyses } from './modelAnalyses';
import { webviewHtml, webviewOptions } from './webviewHtml';

function isOnnx(model: vscode.Uri): boolean {
  return model.path.toLowerCase().endsWith('.onnx');
}

function summaryOf(report: ModelReport): TableState['summary'] {
  const m = report.model;
  return {
    verdict: formatVerdict(m),
    severity: m.verdict.severity,
    headline: m.verdict.headline,
    copa: formatIndices(m).copa,
    raIndex: formatIndices(m).raCount,
    format: report.format,
    weights: report.weights,
    inputShape: formatShape(report.inputShape),
    coverage: formatCoverage(m.coverage),
    ...(jacobianRankOf(m) ? { identifiability: `Jacobian ${formatJacobianRank(jacobianRankOf(m)!)}` } : {}),
    warnings: report.warnings,
  };
}

/** Per layer, the rank of the gradients' Jacobian restricted to its parameters ("27", "at least 48"), when measured. */
function layerRanksOf(report: ModelReport): Map<string, string> {
  const rank = jacobianRankOf(report.model);
  return new Map(rank?.layers.map((l) => [l.nodeId, `${l.method === 'lower-bound' ? 'at least ' : ''}${l.rank}`]));
}

function rowOf(f: ModelReport['layers'][number], jacobianRank: string | undefined): TableRow {
  return {
    index: f.index,
    name: layerLabel(f),
    description: f.description,
    shapes: `${formatShape(f.inputShape)} → ${formatShape(f.outputShape)}`,
    risk: f.risk,
    severity: f.severity,
    status: f.status,
    ruleId: f.ruleId,
    reason: f.reason,
    unknowns: f.metrics.nX,
    equations: `${f.metrics.nW} gradient + ${f.metrics.nZ} forward`,
    ranks: formatRanks(f.metrics),
    deficiency: formatNumber(f.metrics.deficiency),
    ...(jacobianRank !== undefined ? { jacobianRank } : {}),
    fixes: f.fixes.map((fix) => `${fix.title}: ${describeFixEffect(fix, '→')}`),
  };
}

/** One webview showing one model's layer table. */
class LayerTable {
  private selected: number | undefined;
  private reveal = 0;
  /** A layer asked for before the analysis that has it arrived. */
  private wanted: string | undefined;
  /** The row the webview reports as selected (what the user sees). */
  shownSelection: number | undefined;
  private progress: TableState['progress'];
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    readonly panel: vscode.WebviewPanel,
    readonly model: vscode.Uri,
    private readonly owner: LayerViews,
  ) {
    const { analyses } = owner;
    panel.webview.options = webviewOptions(owner.context.extensionUri);
    panel.webview.html = webviewHtml(panel.webview, owner.context.extensionUri, 'layers', path.basename(model.fsPath), this.state());
    const mine = (uri: vscode.Uri) => uri.toString() === model.toString();
    this.subscriptions = [
      analyses.onDidChange((uri) => {
        if (!mine(uri)) return;
        this.progress = undefined;
        if (this.wanted !== undefined) this.applyWanted();
        this.post();
      }),
      analyses.onDidProgress((p) => {
        if (!mine(p.uri)) return;
        this.progress = { done: p.done, total: p.total, label: p.label };
        this.post();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.post()),
      panel.webview.onDidReceiveMessage((message: ViewToHost) => this.onMessage(message)),
      panel.onDidChangeViewState(() => panel.active && (owner.lastActive = this)),
    ];
    panel.onDidDispose(() => {
      this.subscriptions.forEach((s) => s.dispose());
      owner.forget(this);
    });
  }

  private onMessage(message: ViewToHost) {
    if (message.type === 'ready') this.post();
    else if (message.type === 'runAttack') void vscode.commands.executeCommand(Commands.showReconstructions, this.model);
    else if (message.type === 'openLayerDocument') void vscode.commands.executeCommand(Commands.openLayerDocument, this.model);
    else if (message.type === 'manageTrust') void vscode.commands.executeCommand(MANAGE_TRUST_COMMAND);
    else if (message.type === 'selected') this.shownSelection = this.selected = message.index;
    else if (message.type === 'error') this.owner.log.error(`layer view webview: ${message.message}`);
  }

  state(): TableState {
    const model = this.model;
    const trusted = vscode.workspace.isTrusted;
    const base = {
      model: model.toString(),
      modelName: path.basename(model.fsPath),
      trusted,
      restrictedReason: trusted ? undefined : RESTRICTED_ATTACK_REASON,
      progress: this.owner.analyses.isAnalysing(model) ? (this.progress ?? { done: 0, total: 1, label: 'starting' }) : undefined,
      selected: this.selected,
      reveal: this.reveal,
    };
    const analysis = this.owner.analyses.get(model);
    if (!analysis) return { ...base, phase: 'analysing' };
    if (analysis.kind === 'failed')
      return { ...base, phase: 'failed', message: `Cannot read this model (${analysis.failure.code}): ${failureMessage(analysis.failure)}` };
    const ranks = layerRanksOf(analysis.report);
    return { ...base, phase: 'done', summary: summaryOf(analysis.report), rows: analysis.report.layers.map((f) => rowOf(f, ranks.get(f.nodeId))) };
  }

  post() {
    void this.panel.webview.postMessage({ type: 'table', state: this.state() } satisfies HostToView);
  }

  /** Selects the layer (by node id), scrolls it into view and focuses it; waits for the analysis if need be. */
  select(nodeId: string) {
    this.wanted = nodeId;
    this.applyWanted();
    this.post();
  }

  private applyWanted() {
    const analysis = this.owner.analyses.get(this.model);
    const finding = analysis?.kind === 'report' ? analysis.report.layers.find((f) => f.nodeId === this.wanted) : undefined;
    if (!finding) return;
    this.wanted = undefined;
    this.selected = finding.index;
    this.reveal++;
  }
}

export class LayerViews implements vscode.CustomReadonlyEditorProvider, vscode.Disposable {
  private readonly tables = new Set<LayerTable>();
  /** Layers to select once the model's view exists (openWith resolves the editor asynchronously). */
  private readonly pending = new Map<string, string>();
  /** The view the user looked at last (Show Model Layers and the other commands act on its model). */
  lastActive: LayerTable | undefined;
  private readonly registrations: vscode.Disposable[];

  constructor(
    readonly context: vscode.ExtensionContext,
    readonly analyses: ModelAnalyses,
    readonly log: vscode.LogOutputChannel,
  ) {
    this.registrations = [
      vscode.window.registerCustomEditorProvider(Views.layerView, this, { webviewOptions: { enableFindWidget: true } }),
      vscode.window.registerWebviewPanelSerializer(Views.layerPanel, {
        deserializeWebviewPanel: async (panel, state: TableState | undefined) => {
          if (!state?.model) return panel.dispose();
          this.adopt(panel, vscode.Uri.parse(state.model));
        },
      }),
    ];
  }

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  async resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): Promise<void> {
    this.adopt(panel, document.uri);
  }

  private adopt(panel: vscode.WebviewPanel, model: vscode.Uri): LayerTable {
    const table = new LayerTable(panel, model, this);
    this.tables.add(table);
    if (panel.active) this.lastActive = table;
    const pending = this.pending.get(model.toString());
    this.pending.delete(model.toString());
    if (!this.analyses.get(model)) this.analyses.analyse(model).catch((e) => this.log.error(`${model.fsPath}: ${e instanceof Error ? e.message : String(e)}`));
    if (pending) table.select(pending);
    return table;
  }

  forget(table: LayerTable) {
    this.tables.delete(table);
    if (this.lastActive === table) this.lastActive = undefined;
  }

  /** The views showing this model. */
  viewsOf(model: vscode.Uri): LayerTable[] {
    return [...this.tables].filter((t) => t.model.toString() === model.toString());
  }

  /** The model of the active Layer View panel (custom editor tabs are found through the tab API as well). */
  activeModel(): vscode.Uri | undefined {
    return this.lastActive?.panel.active ? this.lastActive.model : undefined;
  }

  /** Opens the model in its Layer View (the custom editor for .onnx, a panel otherwise), with the layer selected. */
  async open(model: vscode.Uri, nodeId?: string): Promise<void> {
    if (isOnnx(model)) {
      if (nodeId !== undefined && !this.viewsOf(model).length) this.pending.set(model.toString(), nodeId);
      await vscode.commands.executeCommand('vscode.openWith', model, Views.layerView, { preview: false });
    } else {
      const existing = this.viewsOf(model)[0];
      if (existing) existing.panel.reveal(undefined, false);
      else {
        const panel = vscode.window.createWebviewPanel(Views.layerPanel, `Layers: ${path.basename(model.fsPath)}`, vscode.ViewColumn.Beside, {
          ...webviewOptions(this.context.extensionUri),
          enableFindWidget: true,
        });
        if (nodeId !== undefined) this.pending.set(model.toString(), nodeId);
        this.adopt(panel, model);
      }
    }
    if (nodeId !== undefined) for (const table of this.viewsOf(model)) table.select(nodeId);
    this.pending.delete(model.toString());
  }

  dispose() {
    this.registrations.forEach((r) => r.dispose());
    for (const table of [...this.tables]) if (!isOnnx(table.model)) table.panel.dispose();
  }
}
