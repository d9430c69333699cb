// Findings as diagnostics. The issues come from the engine's collectIssues, the same list the CLI's reports are
// made of, so both show the same findings at the same severities.
// model.json: each finding on its layer (the name inside the layer object). .onnx (binary): on the file, linking to
// the layer's line in the layer document. Related information: the layer's weight files and the upstream layer.
import * as vscode from 'vscode';
import { collectIssues, layerLabel, ruleHelpUri, TOOL, type LayerFinding, type TextRange } from '../engine';
import { layerLocation } from './layerDocument';
import { failureMessage, type Analysis } from './modelAnalyses';
import { diagnosticSeverity } from './settings';

export const DIAGNOSTIC_SOURCE = 'leaklint';

export function toRange(range: TextRange): vscode.Range {
  return new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character);
}

/** Where a finding's squiggle goes in model.json: the layer object. */
export function findingRange(finding: LayerFinding | undefined): vscode.Range {
  if (!finding || finding.location.format !== 'json') return new vscode.Range(0, 0, 0, 0);
  return toRange(finding.location.range);
}

export function toDiagnostics(analysis: Analysis): vscode.Diagnostic[] {
  const fileStart = new vscode.Range(0, 0, 0, 0);
  if (analysis.kind === 'failed') {
    // A model that cannot be read is a finding about that file, shown where people look.
    const unreadable = new vscode.Diagnostic(fileStart, failureMessage(analysis.failure), vscode.DiagnosticSeverity.Error);
    unreadable.source = DIAGNOSTIC_SOURCE;
    unreadable.code = analysis.failure.code;
    return [unreadable];
  }
  const { report, config, uri } = analysis;
  /** Where a layer is shown: its object in model.json, its line in the layer document for ONNX. */
  const locationOf = (finding: LayerFinding): vscode.Location =>
    finding.location.format === 'json' ? new vscode.Location(uri, findingRange(finding)) : layerLocation(uri, finding);
  const byIndex = new Map(report.layers.map((f) => [f.index, f]));

  return collectIssues({ tool: TOOL, reports: [report], failures: [], rules: config.rules }).map((issue) => {
    const finding = issue.finding;
    const message = finding ? `${layerLabel(finding)}: ${issue.message}` : issue.message;
    const d = new vscode.Diagnostic(findingRange(finding), message, diagnosticSeverity(issue.severity, config));
    d.source = DIAGNOSTIC_SOURCE;
    d.code = { value: issue.ruleId, target: vscode.Uri.parse(ruleHelpUri(issue.ruleId)) };
    const related: vscode.DiagnosticRelatedInformation[] = [];
    if (finding) {
      if (finding.location.format === 'onnx') {
        related.push(new vscode.DiagnosticRelatedInformation(layerLocation(uri, finding), `${layerLabel(finding)} in the layer list`));
      }
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
    return d;
  });
}
