// Explorer decorations of ONNX models: their diagnostics are on the layer document (the binary file has no text to
// point into), so the file itself gets the verdict as a badge and colour, as files with problems do.
import * as vscode from 'vscode';
import { formatVerdict } from '../engine';
import type { ModelAnalyses } from './modelAnalyses';

export class ModelDecorations implements vscode.FileDecorationProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChangeFileDecorations = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly analyses: ModelAnalyses) {
    this.subscription = analyses.onDidChange((uri) => this.changed.fire(uri));
  }

  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (!uri.path.toLowerCase().endsWith('.onnx')) return undefined;
    const analysis = this.analyses.get(uri);
    if (!analysis) return undefined;
    if (analysis.kind === 'failed') return new vscode.FileDecoration('!', 'LeakLint: unreadable', new vscode.ThemeColor('list.errorForeground'));
    const verdict = analysis.report.model.verdict;
    const tooltip = `LeakLint: ${formatVerdict(analysis.report.model)}`;
    if (verdict.severity === 'low') return new vscode.FileDecoration(undefined, tooltip);
    const decoration = new vscode.FileDecoration(
      verdict.severity === 'high' ? 'H' : 'M',
      tooltip,
      new vscode.ThemeColor(verdict.severity === 'high' ? 'list.errorForeground' : 'list.warningForeground'),
    );
    decoration.propagate = true;
    return decoration;
  }

  dispose() {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
