// The read-only layer document of a model (scheme `leaklint-layers:`): one line per analysed layer with its op,
// shapes, risk and status. Binary .onnx files have no text to point into, so their layer findings are diagnostics of
// this document, on the layer's name (a Problems click opens it at the layer), and the layer document's hovers,
// CodeLens and code actions give the same details as model.json's.
import * as path from 'path';
import * as vscode from 'vscode';
import { formatIndices, formatRisk, formatShape, formatVerdict, layerLabel, type LayerFinding, type ModelFailure, type ModelReport } from '../engine';
import { failureMessage, type ModelAnalyses } from './modelAnalyses';

export const LAYER_DOCUMENT_SCHEME = 'leaklint-layers';
/** Lines before the first layer: title, verdict, indices, blank line, column header. */
const HEADER_LINES = 5;
const VERDICT_LINE = 1;

/** The layer document of a model: the model's path with ".layers" appended, the model's URI in the query. */
export function layerDocumentUri(model: vscode.Uri): vscode.Uri {
  return vscode.Uri.from({ scheme: LAYER_DOCUMENT_SCHEME, path: `${model.path}.layers`, query: model.toString() });
}

export function modelOfLayerDocument(document: vscode.Uri): vscode.Uri {
  return vscode.Uri.parse(document.query);
}

/** 0-based line of a layer in its layer document. */
export function layerLine(finding: Pick<LayerFinding, 'index'>): number {
  return HEADER_LINES + finding.index;
}

export function layerAtLine(report: ModelReport, line: number): LayerFinding | undefined {
  return report.layers.find((f) => layerLine(f) === line);
}

/** The first line of a model that cannot be read: where its read error is shown. */
export function failureLine(model: vscode.Uri, failure: ModelFailure): string {
  return `LeakLint could not read ${model.fsPath} (${failure.code}): ${failureMessage(failure)}`;
}

/** Where the model-level finding sits: the verdict word at the start of the summary line. */
export function verdictRange(report: ModelReport): vscode.Range {
  return new vscode.Range(VERDICT_LINE, 0, VERDICT_LINE, formatVerdict(report.model).length);
}

/** The layer's name on its line (the columns are padded to the widest index: see renderLayerDocument). */
export function layerNameRange(report: ModelReport, finding: LayerFinding): vscode.Range {
  const line = layerLine(finding);
  const start = indexWidth(report) + COLUMN_GAP.length;
  return new vscode.Range(line, start, line, start + layerLabel(finding).length);
}

export function layerLocation(model: vscode.Uri, report: ModelReport, finding: LayerFinding): vscode.Location {
  return new vscode.Location(layerDocumentUri(model), layerNameRange(report, finding));
}

const COLUMN_GAP = '  ';
const INDEX_HEADER = '#';

function indexWidth(report: ModelReport): number {
  return Math.max(INDEX_HEADER.length, ...report.layers.map((f) => String(f.index).length));
}

export function renderLayerDocument(report: ModelReport): string {
  const m = report.model;
  const rows = [...report.layers]
    .sort((a, b) => a.index - b.index)
    .map((f) => [
      String(f.index),
      layerLabel(f),
      f.description,
      `${formatShape(f.inputShape)} -> ${formatShape(f.outputShape)}`,
      `risk ${formatRisk(f.risk)} ${f.severity}`,
      f.status,
      f.ruleId,
    ]);
  const header = [INDEX_HEADER, 'layer', 'op', 'input -> output', 'risk', 'status', 'rule'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  widths[0] = indexWidth(report);
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c]))
      .join(COLUMN_GAP)
      .trimEnd();
  const lines = [
    `LeakLint layers of ${path.basename(report.file)} (${report.format}, ${report.weights} weights, input ${formatShape(report.inputShape)})`,
    `${formatVerdict(m)}: ${m.verdict.headline}`,
    `COPA ${formatIndices(m).copa}, RA-i ${formatIndices(m).raCount}`,
    '',
    line(header),
    // One line per layer, in index order: layerLine() depends on it.
    ...rows.map(line),
    '',
    ...report.warnings.map((w) => `warning: ${w}`),
  ];
  return lines.join('\n') + '\n';
}

export class LayerDocumentProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly analyses: ModelAnalyses) {
    this.subscription = analyses.onDidChange((model) => this.changed.fire(layerDocumentUri(model)));
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const model = modelOfLayerDocument(uri);
    let analysis = this.analyses.get(model);
    if (!analysis) {
      try {
        analysis = await this.analyses.analyse(model);
      } catch (e) {
        return `LeakLint could not analyse ${model.fsPath}: ${e instanceof Error ? e.message : String(e)}\n`;
      }
    }
    if (!analysis) return `${model.fsPath} is ignored by the leaklint.ignore setting.\n`;
    if (analysis.kind === 'failed') return `${failureLine(model, analysis.failure)}\n`;
    return renderLayerDocument(analysis.report);
  }

  dispose() {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
