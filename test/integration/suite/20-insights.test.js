// Hovers, CodeLens, the layer document and the status bar, through VS Code's own provider commands.
'use strict';
const assert = require('assert');
const fs = require('fs');
const vscode = require('vscode');
const { workspaceFile, leaklint, waitFor, hoverText, verdictOf, closeAllEditors } = require('./helpers');

suite('LeakLint hovers, CodeLens, layer document, status bar', () => {
  let api;
  let modelSeverity;
  let riskLine;
  suiteSetup(async () => {
    ({ api } = await leaklint());
    // A layer's severity is capped at the model's verdict (high once the Jacobian rank shows the image identifiable).
    modelSeverity = (uri) => verdictOf(api.analyses.get(uri).report).severity;
    riskLine = (risk, uri) => new RegExp(`Risk \\*\\*${risk.replace('.', '\\.')}\\*\\* \\(${modelSeverity(uri)}\\)`);
    for (const file of [['tfjs', 'model.json'], ['model.onnx']]) await api.analyses.analyse(workspaceFile(...file));
  });

  test('hover on a model.json layer object: risk, equations, reason, fixes, command links', async () => {
    const uri = workspaceFile('tfjs', 'model.json');
    const document = await vscode.workspace.openTextDocument(uri);
    const at = document.positionAt(fs.readFileSync(uri.fsPath, 'utf8').indexOf('"name": "conv_2"'));
    const text = hoverText(await vscode.commands.executeCommand('vscode.executeHoverProvider', uri, at));
    assert.match(text, /\*\*conv\\_2\*\*/); // Markdown-escaped name
    assert.match(text, riskLine('0.92', uri));
    assert.match(text, /\| 3468 \| 2160 \+ \d+ \|/, 'unknowns, gradient and forward equations');
    assert.match(text, /\| 280 \|/, 'deficiency');
    assert.match(text, /leaving 280 dimensions of its input feature map/);
    // The hover states the model's verdict as the JSON report does.
    const { verdict } = api.analyses.get(uri).report.model;
    assert.ok(text.includes(`**${verdict.severity.toUpperCase()} risk (${verdict.risk.toFixed(2)})**`), text);
    assert.match(text, /command:leaklint\.showReconstructions/);
    assert.match(text, /command:leaklint\.explainLayer/);
  });

  test('hover in the layer document, on the layer line', async () => {
    const document = await vscode.commands.executeCommand('leaklint.openLayerDocument', workspaceFile('model.onnx')).then((e) => e.document);
    assert.strictEqual(document.uri.scheme, 'leaklint-layers');
    const line = [...Array(document.lineCount).keys()].find((i) => /^\d+\s+conv_3\s/.test(document.lineAt(i).text));
    assert.ok(line !== undefined, `no conv_3 line in:\n${document.getText()}`);
    const text = hoverText(await vscode.commands.executeCommand('vscode.executeHoverProvider', document.uri, new vscode.Position(line, 3)));
    assert.match(text, /\*\*conv\\_3\*\*/);
    assert.match(text, riskLine('1.00', workspaceFile('model.onnx')));
  });

  test('CodeLens above every analysed layer, in model.json and in the layer document', async () => {
    const uri = workspaceFile('tfjs', 'model.json');
    const analysis = api.analyses.get(uri);
    const lenses = await vscode.commands.executeCommand('vscode.executeCodeLensProvider', uri);
    assert.strictEqual(lenses.length, analysis.report.layers.length);
    assert.ok(
      lenses.every((l) => /^LeakLint: risk \d\.\d\d (high|medium|low) · /.test(l.command.title)),
      lenses.map((l) => l.command.title).join('\n'),
    );
    const conv2 = lenses.find((l) => l.command.arguments[1] === 'conv_2');
    assert.match(conv2.command.title, new RegExp(`risk 0\\.92 ${modelSeverity(uri)} · under-determined`));
    const layerLenses = await vscode.commands.executeCommand(
      'vscode.executeCodeLensProvider',
      vscode.Uri.from({ scheme: 'leaklint-layers', path: `${workspaceFile('model.onnx').path}.layers`, query: workspaceFile('model.onnx').toString() }),
    );
    assert.strictEqual(layerLenses.length, api.analyses.get(workspaceFile('model.onnx')).report.layers.length);
  });

  test('no CodeLens in a one-line model.json (they would pile up on line 1): the hover carries the summary', async () => {
    const uri = workspaceFile('tfjs-min', 'model.json');
    assert.strictEqual(api.analyses.get(uri).kind, 'report');
    const document = await vscode.workspace.openTextDocument(uri);
    const lenses = await vscode.commands.executeCommand('vscode.executeCodeLensProvider', uri);
    assert.deepStrictEqual(lenses, []);
    const at = document.positionAt(document.getText().indexOf('"name":"conv_2"'));
    const text = hoverText(await vscode.commands.executeCommand('vscode.executeHoverProvider', uri, at));
    assert.match(text, riskLine('0.92', uri));
    assert.match(text, /Model: \*\*(HIGH|MEDIUM|LOW) risk \(\d\.\d\d\)\*\*\. /);
  });

  test("status bar: the active model's verdict (the word, as in the JSON report), not a score", async () => {
    const uri = workspaceFile('tfjs', 'model.json');
    await vscode.window.showTextDocument(uri);
    const expected = `$(shield) LeakLint: ${verdictOf(api.analyses.get(uri).report).severity} risk`;
    await waitFor(
      () => api.statusBarText() === expected,
      () => `status bar "${expected}", got ${api.statusBarText()}`,
    );
    await closeAllEditors();
  });

  test('ONNX layer view (the default editor) and the status bar follow the model', async () => {
    const model = workspaceFile('cnn6.onnx');
    await vscode.commands.executeCommand('vscode.open', model);
    const tab = await waitFor(() => {
      const active = vscode.window.tabGroups.activeTabGroup.activeTab;
      return active && active.input instanceof vscode.TabInputCustom && active.input.viewType === 'leaklint.layerView' && active;
    }, 'the layer view tab');
    assert.strictEqual(tab.input.uri.toString(), model.toString());
    const expected = `$(shield) LeakLint: ${verdictOf(api.analyses.get(model).report).severity} risk`;
    await waitFor(
      () => api.statusBarText() === expected,
      () => `status bar ${expected} for cnn6.onnx, got ${api.statusBarText()}`,
    );
    assert.doesNotMatch(api.statusBarText(), /\/100/);
  });

  test('Show Model Layers works from the Layer View and from the layer document', async () => {
    // The Layer View of cnn6.onnx is the active tab (previous test).
    const fromView = await vscode.commands.executeCommand('leaklint.showLayers');
    assert.ok(fromView, 'no document from the Layer View');
    assert.strictEqual(fromView.uri.scheme, 'leaklint-doc');
    assert.match(fromView.getText(), /cnn6\.onnx/);
    assert.match(fromView.getText(), /Conv/);
    await closeAllEditors();
    await vscode.commands.executeCommand('leaklint.openLayerDocument', workspaceFile('tfjs', 'model.json'));
    const fromLayerDocument = await vscode.commands.executeCommand('leaklint.showLayers');
    assert.ok(fromLayerDocument, 'no document from the layer document');
    assert.match(fromLayerDocument.getText(), /tfjs\/model\.json/);
    assert.doesNotMatch(fromLayerDocument.getText(), /could not/);
    assert.ok(vscode.workspace.textDocuments.every((d) => !d.isDirty && d.uri.scheme !== 'untitled'));
    await closeAllEditors();
  });

  test("Explain opens the layer's full explanation, read-only: no dirty or Untitled document", async () => {
    const document = await vscode.commands.executeCommand('leaklint.explainLayer', workspaceFile('model.onnx').toString(), 'conv_2');
    assert.ok(document, 'no document');
    assert.strictEqual(document.uri.scheme, 'leaklint-doc');
    assert.match(document.getText(), /LL002 layer-input-partly-recoverable/);
    assert.match(document.getText(), /What to do/);
    // Without a layer: the model-level finding.
    const model = await vscode.commands.executeCommand('leaklint.explainLayer', workspaceFile('cnn6.onnx').toString());
    assert.match(model.getText(), /LL010/);
    for (const d of vscode.workspace.textDocuments) {
      assert.ok(!d.isDirty, `${d.uri} is dirty`);
      assert.notStrictEqual(d.uri.scheme, 'untitled', 'an Untitled buffer was left');
    }
    await closeAllEditors();
  });
});
