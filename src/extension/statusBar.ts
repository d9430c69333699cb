// Status bar: the active model's verdict ("LeakLint: high risk"), coloured by severity; a click opens its Layer View.
import * as path from 'path';
import * as vscode from 'vscode';
import { Commands } from '../shared/commands';
import { activeModelUri, type ActiveLayerView } from './activeModel';
import { failureMessage, type ModelAnalyses } from './modelAnalyses';
import { formatVerdict } from '../engine';

export class VerdictStatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('leaklint.verdict', vscode.StatusBarAlignment.Right, 100);
  private readonly subscriptions: vscode.Disposable[];
  private visible = false;

  constructor(
    private readonly analyses: ModelAnalyses,
    private readonly layerViews: ActiveLayerView,
  ) {
    this.item.name = 'LeakLint verdict';
    this.subscriptions = [
      analyses.onDidChange(() => this.update()),
      vscode.window.onDidChangeActiveTextEditor(() => this.update()),
      vscode.window.tabGroups.onDidChangeTabs(() => this.update()),
      vscode.window.tabGroups.onDidChangeTabGroups(() => this.update()),
    ];
    this.update();
  }

  /** The text shown, for tests: undefined when hidden. */
  get text(): string | undefined {
    return this.visible ? this.item.text : undefined;
  }

  update() {
    const model = activeModelUri(this.analyses, this.layerViews);
    const analysis = model && this.analyses.get(model);
    if (!model || !analysis) {
      this.item.hide();
      this.visible = false;
      return;
    }
    const name = path.basename(model.fsPath);
    if (analysis.kind === 'failed') {
      this.item.text = '$(error) LeakLint: unreadable';
      this.item.tooltip = `${name}: ${failureMessage(analysis.failure)}`;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
    } else {
      const { model: m } = analysis.report;
      const verdict = m.verdict;
      this.item.text = `$(shield) LeakLint: ${verdict.severity} risk`;
      this.item.tooltip = `${name}: ${formatVerdict(m)}. ${verdict.headline} Click for the Layer View.`;
      this.item.backgroundColor =
        verdict.severity === 'high'
          ? new vscode.ThemeColor('statusBarItem.errorBackground')
          : verdict.severity === 'medium'
            ? new vscode.ThemeColor('statusBarItem.warningBackground')
            : undefined;
    }
    this.item.accessibilityInformation = { label: `LeakLint: ${this.item.tooltip}` };
    this.item.command = { title: 'Open in Layer View', command: Commands.openInLayerView, arguments: [model] };
    this.item.show();
    this.visible = true;
  }

  dispose() {
    this.subscriptions.forEach((s) => s.dispose());
    this.item.dispose();
  }
}
