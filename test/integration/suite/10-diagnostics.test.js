// Runs inside the real extension host, against the extension loaded from the repository (dist/ must be built).
// The workspace folder is a temporary copy of test/fixtures/generated/cnn6d, a one-line tfjs-min/model.json and a
// garbage bad.onnx, made by makeWorkspace.js.
'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const vscode = require('vscode');
const { workspaceFile, leaklint, waitFor, show, codeOf, layerDocumentUri, diagnosticsOf, verdictOf } = require('./helpers');

/** 0-based line of the `{` that opens the layers[] entry whose config.name is `name`, found in the raw text. */
function lineOfLayerObject(text, name) {
  const nameAt = text.indexOf(`"name": "${name}"`);
  assert.ok(nameAt >= 0, `"name": "${name}" not found in model.json`);
  const classAt = text.lastIndexOf('"class_name"', nameAt); // the layer's own class_name comes before its config
  const openAt = text.lastIndexOf('{', classAt);
  assert.ok(classAt >= 0 && openAt >= 0, `no layer object around "${name}"`);
  return { line: text.slice(0, openAt).split('\n').length - 1, nameLine: text.slice(0, nameAt).split('\n').length - 1 };
}

suite('LeakLint diagnostics', () => {
  let extension;

  suiteSetup(async () => {
    ({ extension } = await leaklint());
  });

  test('activates and registers its commands', async () => {
    assert.strictEqual(extension.isActive, true);
    assert.strictEqual(path.resolve(extension.extensionPath), path.resolve(__dirname, '../../..'));
    const commands = await vscode.commands.getCommands(true);
    const contributed = extension.packageJSON.contributes.commands.map((c) => c.command);
    for (const id of contributed) assert.ok(commands.includes(id), `${id} not registered`);
    for (const c of extension.packageJSON.contributes.commands) assert.strictEqual(c.category, 'LeakLint', `${c.command} category`);
  });

  suite('leaklint.auditWorkspace', () => {
    let summary;
    suiteSetup(async function () {
      // Five models with their fixes, one after another in the worker (or from the cache): minutes on a loaded
      // 2-core machine when the background scan has not finished yet.
      this.timeout(300_000);
      // Resolves once the audit loop has finished: diagnostics are set before the command returns.
      summary = await vscode.commands.executeCommand('leaklint.auditWorkspace');
    });

    test('audits every model in the workspace', () => {
      assert.deepStrictEqual(summary, { analysed: 4, failed: 1, ignored: 0, cancelled: false });
    });

    test('model.json: LL002 on the conv_2 layer (its name, not the whole object), with docs link and related information', async () => {
      const uri = workspaceFile('tfjs', 'model.json');
      const text = fs.readFileSync(uri.fsPath, 'utf8');
      const expected = lineOfLayerObject(text, 'conv_2');
      const diagnostics = vscode.languages.getDiagnostics(uri);
      assert.ok(diagnostics.length > 0, 'no diagnostics for tfjs/model.json');
      for (const d of diagnostics) assert.strictEqual(d.source, 'leaklint');
      const ll002 = diagnostics.filter((d) => codeOf(d) === 'LL002');
      assert.strictEqual(ll002.length, 1, `expected one LL002 on model.json, got:\n  ${show(diagnostics)}`);
      const [d] = ll002;
      assert.match(d.message, /^conv_2: /);
      // The squiggle is on the layer's name value ("conv_2"), inside the layer object that starts at expected.line.
      assert.ok(expected.nameLine > expected.line);
      assert.strictEqual(d.range.start.line, expected.nameLine, `LL002 should be on line ${expected.nameLine + 1}, got:\n  ${show(ll002)}`);
      assert.strictEqual(d.range.end.line, expected.nameLine);
      const nameLine = text.split('\n')[expected.nameLine];
      assert.strictEqual(nameLine.slice(d.range.start.character, d.range.end.character), '"conv_2"');
      // Never above its model's verdict: an error with the default failOn (high) when the model is high (the Jacobian
      // rank shows the image identifiable), else a warning.
      const { severity } = verdictOf((await leaklint()).api.analyses.get(uri).report);
      assert.strictEqual(d.severity, severity === 'high' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
      assert.match(d.code.target.toString(), /docs\/rules\.md#ll002$/);
      const related = d.relatedInformation || [];
      const shard = related.find((r) => r.location.uri.path.endsWith('/tfjs/group1-shard1of1.bin'));
      assert.ok(shard, `no link to the weight shard: ${related.map((r) => r.location.uri.toString()).join(', ')}`);
      const upstream = related.find((r) => /upstream layer conv_1/.test(r.message));
      assert.ok(upstream, 'no link to the upstream layer');
      assert.strictEqual(upstream.location.uri.toString(), uri.toString());
      assert.ok(upstream.location.range.start.line < d.range.start.line, 'the upstream layer comes before conv_2');
    });

    test('minified one-line model.json: the same findings, on character ranges of line 0', () => {
      const uri = workspaceFile('tfjs-min', 'model.json');
      const text = fs.readFileSync(uri.fsPath, 'utf8');
      assert.ok(!text.includes('\n'), 'the fixture should be one line');
      const diagnostics = vscode.languages.getDiagnostics(uri);
      const pretty = vscode.languages.getDiagnostics(workspaceFile('tfjs', 'model.json'));
      assert.deepStrictEqual(
        diagnostics.map((d) => [codeOf(d), d.message]),
        pretty.map((d) => [codeOf(d), d.message]),
      );
      const d = diagnostics.find((x) => codeOf(x) === 'LL002');
      const nameValue = text.indexOf('"name":"conv_2"') + '"name":'.length;
      assert.strictEqual(d.range.start.line, 0);
      assert.strictEqual(d.range.start.character, nameValue, `range ${show([d])}`);
      assert.strictEqual(text.slice(d.range.start.character, d.range.end.character), '"conv_2"');
    });

    test('model.onnx: layer findings on the layer document, on the layer name; related information still links', async () => {
      const model = workspaceFile('model.onnx');
      const layers = layerDocumentUri(model);
      const diagnostics = vscode.languages.getDiagnostics(layers);
      assert.ok(diagnostics.length > 0, 'no diagnostics for the layer document of model.onnx');
      for (const d of diagnostics) assert.strictEqual(d.source, 'leaklint');
      // Nothing is left at byte 0 of the binary file (the model-level finding, if any, is on the verdict line).
      assert.deepStrictEqual(vscode.languages.getDiagnostics(model), []);
      const d = diagnostics.find((x) => codeOf(x) === 'LL002' && x.message.startsWith('conv_2: '));
      assert.ok(d, `no LL002 for conv_2 in model.onnx:\n  ${show(diagnostics)}`);
      const document = await vscode.workspace.openTextDocument(layers);
      const line = document.lineAt(d.range.start.line).text;
      // conv_2's own risk (0.92) is high; its row is capped at the model's verdict (high once the Jacobian rank is in).
      const { severity } = verdictOf((await leaklint()).api.analyses.get(model).report);
      assert.match(line, new RegExp(`^\\d+\\s+conv_2\\s.*risk 0\\.92 ${severity}`));
      assert.strictEqual(document.getText(d.range), 'conv_2');
      const related = d.relatedInformation || [];
      const upstream = related.find((r) => /upstream layer conv_1/.test(r.message));
      assert.ok(upstream, `no upstream link: ${related.map((r) => r.message).join(', ')}`);
      assert.strictEqual(upstream.location.uri.toString(), layers.toString());
      assert.match(document.lineAt(upstream.location.range.start.line).text, /^\d+\s+conv_1\s/);
      const back = related.find((r) => r.location.uri.toString() === model.toString());
      assert.ok(back, 'no link back to the model file (its Layer View)');
    });

    test("a Problems click on an ONNX finding lands on the layer's line in the layer document", async () => {
      // What the Problems panel does on a click: open the diagnostic's resource with its range selected.
      const model = workspaceFile('model.onnx');
      const d = vscode.languages.getDiagnostics(layerDocumentUri(model)).find((x) => x.message.startsWith('conv_3: '));
      assert.ok(d, 'no finding on conv_3');
      const editor = await vscode.window.showTextDocument(layerDocumentUri(model), { selection: d.range });
      assert.strictEqual(vscode.window.activeTextEditor, editor);
      assert.strictEqual(editor.document.uri.scheme, 'leaklint-layers');
      assert.strictEqual(editor.document.getText(editor.selection), 'conv_3');
      assert.ok(
        editor.visibleRanges.some((r) => r.contains(d.range)),
        'the layer line is revealed',
      );
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    });

    test('bad.onnx: one error diagnostic with the read error code, on the line of its layer document that says so', async () => {
      const model = workspaceFile('bad.onnx');
      assert.deepStrictEqual(vscode.languages.getDiagnostics(model), [], 'nothing at byte 0 of the binary file');
      const diagnostics = vscode.languages.getDiagnostics(layerDocumentUri(model));
      assert.strictEqual(diagnostics.length, 1, `expected one diagnostic for bad.onnx, got:\n  ${show(diagnostics)}`);
      const [d] = diagnostics;
      assert.strictEqual(d.code, 'not-a-model');
      assert.strictEqual(d.source, 'leaklint');
      assert.strictEqual(d.severity, vscode.DiagnosticSeverity.Error);
      const document = await vscode.workspace.openTextDocument(layerDocumentUri(model));
      assert.match(document.getText(d.range), /^LeakLint could not read .*bad\.onnx \(not-a-model\)/);
    });
  });

  suite('settings and changes on disk', () => {
    const modelJson = () => workspaceFile('tfjs', 'model.json');
    const ll002Of = (uri) => diagnosticsOf(uri).find((d) => codeOf(d) === 'LL002');
    const settings = () => vscode.workspace.getConfiguration('leaklint');

    teardown(async () => {
      await settings().update('failOn', undefined, vscode.ConfigurationTarget.Workspace);
      await settings().update('rules', undefined, vscode.ConfigurationTarget.Workspace);
    });

    test('leaklint.failOn sets which findings are errors', async () => {
      await settings().update('failOn', 'none', vscode.ConfigurationTarget.Workspace);
      await waitFor(() => ll002Of(modelJson())?.severity === vscode.DiagnosticSeverity.Warning, 'LL002 to be a warning when nothing fails');
      await settings().update('failOn', 'medium', vscode.ConfigurationTarget.Workspace);
      await waitFor(() => ll002Of(modelJson())?.severity === vscode.DiagnosticSeverity.Error, 'LL002 (medium or high) to become an error');
      await settings().update('failOn', 'none', vscode.ConfigurationTarget.Workspace);
      await waitFor(() => ll002Of(modelJson())?.severity === vscode.DiagnosticSeverity.Warning, 'LL002 to be a warning again');
    });

    test('leaklint.rules switches a rule off', async () => {
      await settings().update('rules', { LL002: 'off' }, vscode.ConfigurationTarget.Workspace);
      await waitFor(() => vscode.languages.getDiagnostics(modelJson()).length > 0 && !ll002Of(modelJson()), 'LL002 to disappear');
      await settings().update('rules', undefined, vscode.ConfigurationTarget.Workspace);
      await waitFor(() => ll002Of(modelJson()), 'LL002 to come back');
    });

    test('a model written to disk is analysed, and re-analysed when it changes', async () => {
      const copy = workspaceFile('copy.onnx');
      await vscode.workspace.fs.copy(workspaceFile('model.onnx'), copy, { overwrite: true });
      await waitFor(() => ll002Of(copy), 'diagnostics on the new copy.onnx');
      await vscode.workspace.fs.writeFile(copy, new Uint8Array(64).fill(7));
      await waitFor(
        () => diagnosticsOf(copy).some((d) => d.code === 'not-a-model'),
        () => `not-a-model on copy.onnx, got ${show(diagnosticsOf(copy))}`,
      );
      await vscode.workspace.fs.delete(copy);
      await waitFor(() => diagnosticsOf(copy).length === 0, 'diagnostics of the deleted copy to go');
    });

    test('a changed weight shard re-analyses its model.json', async () => {
      const shard = workspaceFile('tfjs-min', 'group1-shard1of1.bin');
      const model = workspaceFile('tfjs-min', 'model.json');
      const bytes = await vscode.workspace.fs.readFile(shard);
      await vscode.workspace.fs.writeFile(shard, bytes.slice(0, 100)); // too short for the manifest
      try {
        await waitFor(
          () => vscode.languages.getDiagnostics(model).some((d) => d.code === 'truncated'),
          () => `a read error, got ${show(vscode.languages.getDiagnostics(model))}`,
          40_000,
        );
      } finally {
        await vscode.workspace.fs.writeFile(shard, bytes);
      }
      await waitFor(() => ll002Of(model), 'LL002 back after restoring the shard');
    });
  });
});
