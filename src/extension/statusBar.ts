// Status bar: the active model's security score (100 × (1 − model risk)); a click opens its layer document.
import * as path from 'path';
import * as vscode from 'vscode';
import { formatVerdict } from '../engine';
import { Commands } from '../shared/commands';
import { activeModelUri } from './activeModel';
import { failureMessage, type ModelAnalyses } from './modelAnalyses';

export class SecurityScoreItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('leaklint.securityScore', vscode.StatusBarAlignment.Right, 100);
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly analyses: ModelAnalyses) {
    this.item.name = 'LeakLint security score';
    this.subscriptions = [
      analyses.onDidChange(() => this.update()),
      vscode.window.onDidChangeActiveTextEditor(() => this.update()),
      vscode.window.tabGroups.onDidChangeTabs(() => this.update()),
    ];
    this.update();
  }

  /** The text shown, for tests: undefined when hidden. */
  get text(): string | undefined {
    return this.visible ? this.item.text : undefined;
  }

  private visible = false;

  update() {
    const model = activeModelUri(this.analyses);
    const analysis = model && this.analyses.get(model);
    if (!model || !analysis) {
      this.item.hide();
      this.visible = false;
      return;
    }
    if (analysis.kind === 'failed') {
      this.item.text = '$(error) LeakLint: unreadable';
      this.item.tooltip = `${path.basename(model.fsPath)}: ${failureMessage(analysis.failure)}`;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
    } else {
      const { report } = analysis;
      this.item.text = `$(shield) LeakLint: ${report.model.severity} risk`;
      this.item.tooltip = `${path.basename(model.fsPath)}: ${formatVerdict(report.model)}. ${report.model.verdict.headline} Click for the layer list.`;
      this.item.backgroundColor =
        report.model.severity === 'high'
          ? new vscode.ThemeColor('statusBarItem.errorBackground')
          : report.model.severity === 'medium'
            ? new vscode.ThemeColor('statusBarItem.warningBackground')
            : undefined;
    }
    this.item.command = { title: 'Open Layer Document', command: Commands.openLayerDocument, arguments: [model] };
    this.item.show();
    this.visible = true;
  }

  dispose() {
    this.subscriptions.forEach((s) => s.dispose());
    this.item.dispose();
  }
}
