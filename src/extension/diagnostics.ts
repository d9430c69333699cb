// Findings as diagnostics. The issues come from the engine's collectIssues, the same list the CLI's reports are
// made of, so both show the same findings at the same severities.
// model.json: each finding on its layer object's range. .onnx (binary): on the file, linking to the layer's line
// in the layer document. Related information: the layer's weight shard (model.json) and the upstream layer.
import * as vscode from 'vscode';
import { ruleHelpUri } from '../engine/analysis/rules';
import type { LayerFinding } from '../engine/analysis/types';
import { collectIssues } from '../engine/reports/issues';
import { layerLabel } from '../engine/reports/format';
import { layerLocation } from './layerDocument';
import type { Analysis } from './modelAnalyses';
import { diagnosticSeverity } from './settings';
import { TextPositions, weightShardOf } from './modelJson';

export const DIAGNOSTIC_SOURCE = 'leaklint';
export const TOOL = { name: 'LeakLint', version: '0.1.0' };

export function toDiagnostics(analysis: Analysis): vscode.Diagnostic[] {
  const fileStart = new vscode.Range(0, 0, 0, 0);
  if (analysis.kind === 'failed') {
    // A model that cannot be read is a finding about that file, shown where people look.
    const unreadable = new vscode.Diagnostic(fileStart, analysis.message, vscode.DiagnosticSeverity.Error);
    unreadable.source = DIAGNOSTIC_SOURCE;
    unreadable.code = analysis.code;
    return [unreadable];
  }
  const { report, config, uri } = analysis;
  const positions = analysis.text !== undefined ? new TextPositions(analysis.text) : undefined;
  const rangeOf = (finding: LayerFinding | undefined): vscode.Range => {
    if (!finding || !positions || finding.location.format !== 'json') return fileStart;
    const { offset, length } = finding.location;
    return new vscode.Range(positions.at(offset), positions.at(offset + length));
  };
  /** Where a layer is shown: its object in model.json, its line in the layer document for ONNX. */
  const locationOf = (finding: LayerFinding): vscode.Location =>
    finding.location.format === 'json' && positions ? new vscode.Location(uri, rangeOf(finding)) : layerLocation(uri, finding);
  const byIndex = new Map(report.layers.map((f) => [f.index, f]));

  return collectIssues({ tool: TOOL, reports: [report], failures: [], rules: config.rules }).map((issue) => {
    const finding = issue.finding;
    const message = finding ? `${layerLabel(finding)}: ${issue.message}` : issue.message;
    const d = new vscode.Diagnostic(rangeOf(finding), message, diagnosticSeverity(issue.severity, config));
    d.source = DIAGNOSTIC_SOURCE;
    d.code = { value: issue.ruleId, target: vscode.Uri.parse(ruleHelpUri(issue.ruleId)) };
    const related: vscode.DiagnosticRelatedInformation[] = [];
    if (finding) {
      if (finding.location.format === 'onnx') {
        related.push(new vscode.DiagnosticRelatedInformation(layerLocation(uri, finding), `${layerLabel(finding)} in the layer list`));
      }
      const shard = analysis.text !== undefined ? weightShardOf(analysis.text, uri, finding.name) : undefined;
      if (shard) related.push(new vscode.DiagnosticRelatedInformation(new vscode.Location(shard, fileStart), `weights of ${layerLabel(finding)}`));
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
