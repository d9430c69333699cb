// The LeakLint view: every analysed model with its verdict, worst first, expandable to its layers (worst first),
// their findings and proposed fixes; the rows carry the context values the menus use.
'use strict';
const assert = require('assert');
const vscode = require('vscode');
const { WORKSPACE_MODELS, workspaceFile, leaklint, verdictOf } = require('./helpers');

const RANK = { high: 0, medium: 1, low: 2 };

suite('LeakLint view', () => {
  let api;
  let tree;
  suiteSetup(async () => {
    ({ api } = await leaklint());
    await api.scanFinished();
    tree = api.modelsView;
  });

  test('lists every model of the workspace with its verdict, worst first', () => {
    const nodes = tree.getChildren();
    assert.deepStrictEqual(nodes.map((n) => vscode.workspace.asRelativePath(n.model)).sort(), WORKSPACE_MODELS.map((parts) => parts.join('/')).sort());
    const items = nodes.map((n) => ({ node: n, item: tree.getTreeItem(n), analysis: api.analyses.get(n.model) }));
    for (const { item, analysis, node } of items) {
      assert.strictEqual(item.label, vscode.workspace.asRelativePath(node.model));
      assert.strictEqual(item.contextValue, 'leaklint.model');
      if (analysis.kind === 'failed') assert.strictEqual(item.description, 'unreadable');
      else assert.ok(item.description.startsWith(`${verdictOf(analysis.report).severity.toUpperCase()} risk (`), item.description);
    }
    // Unreadable first, then by verdict severity.
    const rank = ({ analysis }) => (analysis.kind === 'failed' ? -1 : RANK[verdictOf(analysis.report).severity]);
    for (let i = 1; i < items.length; i++) assert.ok(rank(items[i - 1]) <= rank(items[i]), items.map((x) => x.item.label).join(', '));
  });

  test('a model expands to its layers, worst first; a layer to its finding and proposed fixes', () => {
    const model = tree.getChildren().find((n) => n.model.toString() === workspaceFile('cnn6.onnx').toString());
    const children = tree.getChildren(model);
    const layers = children.filter((n) => n.type === 'layer');
    const report = api.analyses.get(model.model).report;
    assert.strictEqual(layers.length, report.layers.length);
    const severities = layers.map((n) => report.layers.find((f) => f.nodeId === n.nodeId).severity);
    for (let i = 1; i < severities.length; i++) assert.ok(RANK[severities[i - 1]] <= RANK[severities[i]], severities.join(', '));
    const fixed = layers.find((n) => report.layers.find((f) => f.nodeId === n.nodeId).fixes.length);
    const item = tree.getTreeItem(fixed);
    assert.strictEqual(item.contextValue, 'leaklint.layer.fixable');
    assert.match(item.description, /^risk \d\.\d\d (high|medium|low) · /);
    const below = tree.getChildren(fixed);
    assert.strictEqual(below[0].type, 'finding');
    assert.match(tree.getTreeItem(below[0]).label, /^LL0\d\d /);
    const fixes = below.filter((n) => n.type === 'fix');
    assert.ok(fixes.length > 0);
    assert.match(tree.getTreeItem(fixes[0]).description, /^closed-form risk \d\.\d\d → \d\.\d\d$/);
    assert.strictEqual(tree.getTreeItem(fixes[0]).command.command, 'leaklint.showProposedChange');
  });

  test('the context-menu commands take a row: explain a finding, ignore a model', async () => {
    const model = tree.getChildren().find((n) => n.model.toString() === workspaceFile('model.onnx').toString());
    const layer = tree.getChildren(model).find((n) => n.type === 'layer' && n.nodeId === 'conv_2');
    const finding = tree.getChildren(layer).find((n) => n.type === 'finding');
    const document = await vscode.commands.executeCommand('leaklint.explainLayer', finding);
    assert.match(document.getText(), /LL002/);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
