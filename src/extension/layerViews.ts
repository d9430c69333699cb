// The read-only ONNX custom editor ("LeakLint Layer View", priority "option": Open With…): model metrics and the
// layer table coloured by risk. The runtime reads and analyses the file; the webview gets only display rows.
import * as path from 'path';
import * as vscode from 'vscode';
import { describeFixEffect, formatCoverage, formatIndices, formatNumber, formatRanks, formatRisk, formatShape, layerLabel, type ModelReport } from '../engine';
import { Commands } from '../shared/commands';
import type { HostToView, TableRow, TableState, ViewToHost } from '../shared/webviewProtocol';
import { failureMessage, type Analysis, type ModelAnalyses } from './modelAnalyses';
import { webviewHtml, webviewOptions } from './webviewHtml';

export function tableStateOf(model: vscode.Uri, analysis: Analysis | undefined): TableState {
  const base = { model: model.toString(), modelName: path.basename(model.fsPath), trusted: vscode.workspace.isTrusted };
  if (!analysis) return { ...base, phase: 'analysing' };
  if (analysis.kind === 'failed')
    return { ...base, phase: 'failed', message: `Cannot read this model (${analysis.failure.code}): ${failureMessage(analysis.failure)}` };
  return { ...base, phase: 'done', summary: summaryOf(analysis.report), rows: analysis.report.layers.map(rowOf) };
}

function summaryOf(report: ModelReport): TableState['summary'] {
  const m = report.model;
  return {
    risk: formatRisk(m.risk),
    severity: m.severity,
    headline: m.verdict.headline,
    copa: formatIndices(m).copa,
    raIndex: formatIndices(m).raCount,
    format: report.format,
    weights: report.weights,
    inputShape: formatShape(report.inputShape),
    coverage: formatCoverage(m.coverage),
    warnings: report.warnings,
  };
}

function rowOf(f: ModelReport['layers'][number]): TableRow {
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
    fixes: f.fixes.map((fix) => `${fix.title}: ${describeFixEffect(fix, '→')}`),
  };
}

export class LayerTableEditorProvider implements vscode.CustomReadonlyEditorProvider {
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly analyses: ModelAnalyses,
    private readonly output: vscode.OutputChannel,
  ) {}

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  async resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): Promise<void> {
    const model = document.uri;
    const post = () => void panel.webview.postMessage({ type: 'table', state: tableStateOf(model, this.analyses.get(model)) } satisfies HostToView);
    panel.webview.options = webviewOptions(this.context.extensionUri);
    panel.webview.html = webviewHtml(
      panel.webview,
      this.context.extensionUri,
      'layers',
      path.basename(model.fsPath),
      tableStateOf(model, this.analyses.get(model)),
    );
    const subscriptions = [
      this.analyses.onDidChange((uri) => uri.toString() === model.toString() && post()),
      panel.webview.onDidReceiveMessage((message: ViewToHost) => {
        if (message.type === 'ready') post();
        else if (message.type === 'runAttack') void vscode.commands.executeCommand(Commands.showReconstructions, model);
        else if (message.type === 'openLayerDocument') void vscode.commands.executeCommand(Commands.openLayerDocument, model);
        else if (message.type === 'error') this.output.appendLine(`layer view webview: ${message.message}`);
      }),
    ];
    panel.onDidDispose(() => subscriptions.forEach((s) => s.dispose()));
    if (!this.analyses.get(model)) {
      this.analyses.analyse(model).catch((e) => this.output.appendLine(`error: ${e instanceof Error ? e.message : String(e)}`));
    }
  }
}
