// Findings as diagnostics. The issues come from the engine's collectIssues, the same list the CLI's reports are
// made of, so both show the same findings at the same severities.
// model.json: each finding on its layer's name (or class name) inside the layer object. .onnx (binary, no text to
// point into): every diagnostic is on the model's read-only layer document, a layer finding on the layer's name, the
// model-level finding (LL010) on the verdict, a read failure on the line that says so; a Problems click lands there,
// and code actions work there (they need a text document). Related information: the model file (its Layer View), the
// layer's weight files and the upstream layer.
import * as vscode from 'vscode';
import { collectIssues, layerLabel, ruleHelpUri, TOOL, type LayerFinding, type TextRange } from '../engine';
import { failureLine, layerDocumentUri, layerLocation, layerNameRange, verdictRange } from './layerDocument';
import { failureMessage, type Analysis } from './modelAnalyses';
import { diagnosticSeverity } from './settings';

export const DIAGNOSTIC_SOURCE = 'leaklint';

export function toRange(range: TextRange): vscode.Range {
  return new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character);
}

/** Where a finding's squiggle goes in model.json: the layer's name (else its class name), else the whole object. */
export function findingRange(finding: LayerFinding | undefined): vscode.Range {
  if (!finding || finding.location.format !== 'json') return new vscode.Range(0, 0, 0, 0);
  return toRange(finding.location.focus ?? finding.location.range);
}

/** The documents a model's diagnostics are on: the model file, and for ONNX its layer document. */
export function diagnosticUris(model: vscode.Uri): vscode.Uri[] {
  return model.path.toLowerCase().endsWith('.onnx') ? [model, layerDocumentUri(model)] : [model];
}

/** Every diagnostic of one model's analysis, by the document it is on (every URI of diagnosticUris, maybe empty). */
export function toDiagnostics(analysis: Analysis): Map<string, { uri: vscode.Uri; diagnostics: vscode.Diagnostic[] }> {
  const byUri = new Map(diagnosticUris(analysis.uri).map((uri) => [uri.toString(), { uri, diagnostics: [] as vscode.Diagnostic[] }]));
  const add = (uri: vscode.Uri, d: vscode.Diagnostic) => byUri.get(uri.toString())!.diagnostics.push(d);
  const fileStart = new vscode.Range(0, 0, 0, 0);
  const isOnnx = byUri.size > 1;
  const home = isOnnx ? layerDocumentUri(analysis.uri) : analysis.uri;
  if (analysis.kind === 'failed') {
    // A model that cannot be read is a finding about that file, shown where people look.
    const range = isOnnx ? new vscode.Range(0, 0, 0, failureLine(analysis.uri, analysis.failure).length) : fileStart;
    const unreadable = new vscode.Diagnostic(range, failureMessage(analysis.failure), vscode.DiagnosticSeverity.Error);
    unreadable.source = DIAGNOSTIC_SOURCE;
    unreadable.code = analysis.failure.code;
    add(home, unreadable);
    return byUri;
  }
  const { report, config, uri } = analysis;
  /** Where a layer is shown: its name in model.json, its line in the layer document for ONNX. */
  const locationOf = (finding: LayerFinding): vscode.Location =>
    finding.location.format === 'json' ? new vscode.Location(uri, findingRange(finding)) : layerLocation(uri, report, finding);
  const byIndex = new Map(report.layers.map((f) => [f.index, f]));

  for (const issue of collectIssues({ tool: TOOL, reports: [report], failures: [], rules: config.rules })) {
    const finding = issue.finding;
    const message = finding ? `${layerLabel(finding)}: ${issue.message}` : issue.message;
    const range = !isOnnx ? findingRange(finding) : finding ? layerNameRange(report, finding) : verdictRange(report);
    const d = new vscode.Diagnostic(range, message, diagnosticSeverity(issue.severity, config));
    d.source = DIAGNOSTIC_SOURCE;
    d.code = { value: issue.ruleId, target: vscode.Uri.parse(ruleHelpUri(issue.ruleId)) };
    const related: vscode.DiagnosticRelatedInformation[] = [];
    if (isOnnx) {
      related.push(
        new vscode.DiagnosticRelatedInformation(new vscode.Location(uri, fileStart), `${finding ? layerLabel(finding) : 'the model'} in the Layer View`),
      );
    }
    if (finding) {
      for (const file of finding.weightFiles ?? []) {
        related.push(new vscode.DiagnosticRelatedInformation(new vscode.Location(vscode.Uri.file(file), fileStart), `weights of ${layerLabel(finding)}`));
      }
      const upstream = byIndex.get(finding.index - 1);
      if (upstream) {
        related.push(
          new vscode.DiagnosticRelatedInformation(locationOf(upstream), `upstream layer ${layerLabel(upstream)} (risk ${upstream.risk.toFixed(2)})`),
        );
      }
    } else if (report.model.firstDeficientLayer) {
      const first = report.layers.find((f) => f.nodeId === report.model.firstDeficientLayer);
      if (first) related.push(new vscode.DiagnosticRelatedInformation(locationOf(first), `first deficient layer ${layerLabel(first)}`));
    }
    if (related.length) d.relatedInformation = related;
    add(home, d);
  }
  return byUri;
}
