// The LeakLint view in the activity bar: every analysed model with its verdict, worst first, expandable to its layers
// (worst first) and their findings and proposed fixes. Items carry context values for the same actions the code
// actions offer (view/item/context menus in package.json). With no model yet, package.json's viewsWelcome explains
// LeakLint and how to start.
import * as path from 'path';
import * as vscode from 'vscode';
import { collectIssues, formatRisk, formatVerdict, getRule, layerLabel, SEVERITIES, TOOL, type Issue, type LayerFinding, type Severity } from '../engine';
import { Commands, Views } from '../shared/commands';
import { findingRange } from './diagnostics';
import { failureMessage, type Analysis, type ModelAnalyses } from './modelAnalyses';

/** A row of the tree. Commands run from its context menu receive it as their first argument. */
export type ModelTreeNode =
  | { type: 'model'; model: vscode.Uri }
  | { type: 'layer'; model: vscode.Uri; nodeId: string }
  | { type: 'finding'; model: vscode.Uri; nodeId?: string; ruleId?: string }
  | { type: 'fix'; model: vscode.Uri; nodeId: string; fix: number };

/** Sort key: high before medium before low. */
function severityRank(severity: Severity): number {
  return SEVERITIES.length - 1 - SEVERITIES.indexOf(severity);
}

const SEVERITY_ICON: Record<Severity | 'failed', [string, string]> = {
  failed: ['error', 'list.errorForeground'],
  high: ['error', 'list.errorForeground'],
  medium: ['warning', 'list.warningForeground'],
  low: ['pass', 'charts.green'],
};

function icon(severity: Severity | 'failed'): vscode.ThemeIcon {
  const [id, color] = SEVERITY_ICON[severity];
  return new vscode.ThemeIcon(id, new vscode.ThemeColor(color));
}

function issuesOf(analysis: Extract<Analysis, { kind: 'report' }>): Issue[] {
  return collectIssues({ tool: TOOL, reports: [analysis.report], failures: [], rules: analysis.config.rules });
}

/** Models worst first: unreadable, then by verdict severity and risk, then by path. */
function modelOrder(a: Analysis, b: Analysis): number {
  const rank = (x: Analysis) => (x.kind === 'failed' ? -1 : severityRank(x.report.model.verdict.severity));
  const risk = (x: Analysis) => (x.kind === 'failed' ? 1 : x.report.model.verdict.risk);
  return rank(a) - rank(b) || risk(b) - risk(a) || a.uri.fsPath.localeCompare(b.uri.fsPath);
}

function layerOrder(a: LayerFinding, b: LayerFinding): number {
  return severityRank(a.severity) - severityRank(b.severity) || b.risk - a.risk || a.index - b.index;
}

export class ModelsView implements vscode.TreeDataProvider<ModelTreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ModelTreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly view: vscode.TreeView<ModelTreeNode>;
  private readonly subscriptions: vscode.Disposable[];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly analyses: ModelAnalyses) {
    this.view = vscode.window.createTreeView(Views.models, { treeDataProvider: this, showCollapseAll: true });
    // Many models change at once during a scan: one refresh per burst.
    this.subscriptions = [
      analyses.onDidChange(() => {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.refresh(), 150);
      }),
    ];
  }

  refresh() {
    this.changed.fire(undefined);
    const high = this.analyses.all().filter((a) => a.kind === 'failed' || a.report.model.verdict.severity === 'high').length;
    this.view.badge = high ? { value: high, tooltip: `${high} model(s) at high risk or unreadable` } : undefined;
  }

  getChildren(node?: ModelTreeNode): ModelTreeNode[] {
    if (!node)
      return this.analyses
        .all()
        .sort(modelOrder)
        .map((a) => ({ type: 'model', model: a.uri }));
    const analysis = this.analyses.get(node.model);
    if (!analysis) return [];
    if (node.type === 'model') {
      if (analysis.kind === 'failed') return [{ type: 'finding', model: node.model }];
      const modelIssue = issuesOf(analysis).find((i) => !i.finding);
      const layers = [...analysis.report.layers].sort(layerOrder).map((f): ModelTreeNode => ({ type: 'layer', model: node.model, nodeId: f.nodeId }));
      return [...(modelIssue ? [{ type: 'finding', model: node.model, ruleId: modelIssue.ruleId } as ModelTreeNode] : []), ...layers];
    }
    if (node.type === 'layer' && analysis.kind === 'report') {
      const finding = analysis.report.layers.find((f) => f.nodeId === node.nodeId);
      const issue = issuesOf(analysis).find((i) => i.finding?.nodeId === node.nodeId);
      return [
        ...(issue ? [{ type: 'finding', model: node.model, nodeId: node.nodeId, ruleId: issue.ruleId } as ModelTreeNode] : []),
        ...(finding?.fixes ?? []).map((_, fix): ModelTreeNode => ({ type: 'fix', model: node.model, nodeId: node.nodeId, fix })),
      ];
    }
    return [];
  }

  getParent(node: ModelTreeNode): ModelTreeNode | undefined {
    if (node.type === 'model') return undefined;
    if (node.type === 'layer' || node.nodeId === undefined) return { type: 'model', model: node.model };
    return { type: 'layer', model: node.model, nodeId: node.nodeId };
  }

  getTreeItem(node: ModelTreeNode): vscode.TreeItem {
    const analysis = this.analyses.get(node.model);
    const name = path.basename(node.model.fsPath);
    if (!analysis) return new vscode.TreeItem(name);
    const id = `${node.type}:${node.model.toString()}:${'nodeId' in node ? (node.nodeId ?? '') : ''}:${'fix' in node ? node.fix : ''}`;
    if (node.type === 'model') {
      // The path in the workspace: several models are often all called model.json.
      const item = new vscode.TreeItem(vscode.workspace.asRelativePath(node.model), vscode.TreeItemCollapsibleState.Collapsed);
      if (analysis.kind === 'failed') {
        item.description = 'unreadable';
        item.tooltip = `${node.model.fsPath}\n${failureMessage(analysis.failure)}`;
        item.iconPath = icon('failed');
      } else {
        const verdict = analysis.report.model.verdict;
        item.description = formatVerdict(analysis.report.model);
        item.tooltip = new vscode.MarkdownString(`**${name}: ${formatVerdict(analysis.report.model)}**\n\n${verdict.headline}\n\n${node.model.fsPath}`);
        item.iconPath = icon(verdict.severity);
      }
      item.id = id;
      item.resourceUri = node.model;
      item.contextValue = 'leaklint.model';
      item.command = { title: 'Open', command: Commands.openInLayerView, arguments: [node.model] };
      item.accessibilityInformation = { label: `${name}, ${item.description}` };
      return item;
    }
    if (analysis.kind === 'failed') {
      const item = new vscode.TreeItem(`${analysis.failure.code}: ${failureMessage(analysis.failure)}`);
      item.iconPath = icon('failed');
      item.tooltip = failureMessage(analysis.failure);
      item.contextValue = 'leaklint.failure';
      item.id = id;
      return item;
    }
    const { report } = analysis;
    const finding = 'nodeId' in node && node.nodeId !== undefined ? report.layers.find((f) => f.nodeId === node.nodeId) : undefined;
    if (node.type === 'layer') {
      if (!finding) return new vscode.TreeItem(node.nodeId);
      const item = new vscode.TreeItem(layerLabel(finding), finding.fixes.length || issuesOf(analysis).some((i) => i.finding === finding) ? 1 : 0);
      item.description = `risk ${formatRisk(finding.risk)} ${finding.severity} · ${finding.status} · ${finding.ruleId}`;
      item.tooltip = `${finding.description}\n${finding.reason}`;
      item.iconPath = icon(finding.severity);
      item.contextValue = finding.fixes.length ? 'leaklint.layer.fixable' : 'leaklint.layer';
      item.command = this.revealCommand(analysis, finding);
      item.accessibilityInformation = { label: `${layerLabel(finding)}, ${item.description}` };
      item.id = id;
      return item;
    }
    if (node.type === 'finding') {
      const issue = issuesOf(analysis).find((i) => (finding ? i.finding === finding : !i.finding));
      const rule = node.ruleId ? getRule(node.ruleId) : undefined;
      const item = new vscode.TreeItem(`${node.ruleId ?? ''} ${rule?.name ?? ''}`.trim());
      item.description = issue?.message;
      item.tooltip = issue?.message;
      item.iconPath = icon(issue?.severity ?? 'low');
      item.contextValue = 'leaklint.finding';
      item.command = finding ? this.revealCommand(analysis, finding) : { title: 'Open', command: Commands.openInLayerView, arguments: [node.model] };
      item.id = id;
      return item;
    }
    const fix = finding?.fixes[node.fix];
    const item = new vscode.TreeItem(fix ? `Proposed: ${fix.title}` : 'Proposed change');
    if (fix) item.description = `closed-form risk ${formatRisk(fix.before.modelRisk)} → ${formatRisk(fix.after.modelRisk)}`;
    item.iconPath = new vscode.ThemeIcon('lightbulb');
    item.contextValue = 'leaklint.fix';
    item.command = { title: 'Show the proposed change', command: Commands.showProposedChange, arguments: [node.model, node.nodeId, node.fix] };
    item.id = id;
    return item;
  }

  /** A layer click: its row in the Layer View (ONNX), its name in model.json (TF.js). */
  private revealCommand(analysis: Extract<Analysis, { kind: 'report' }>, finding: LayerFinding): vscode.Command {
    if (finding.location.format !== 'json')
      return { title: 'Open in Layer View', command: Commands.openInLayerView, arguments: [analysis.uri, finding.nodeId] };
    return { title: 'Go to layer', command: 'vscode.open', arguments: [analysis.uri, { selection: findingRange(finding), preview: true }] };
  }

  dispose() {
    clearTimeout(this.timer);
    this.subscriptions.forEach((s) => s.dispose());
    this.changed.dispose();
    this.view.dispose();
  }
}
