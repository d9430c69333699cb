// Runs inside the real extension host, against the extension loaded from the repository (dist/ must be built).
// The workspace folder is a temporary copy of test/fixtures/generated/cnn6d plus a garbage bad.onnx, made by
// run.sh / runTestElectron.js.
'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const vscode = require('vscode');

const manifest = require('../../../package.json');
const EXTENSION_ID = `${manifest.publisher}.${manifest.name}`; // leaklint.leaklint

function workspaceFile(...parts) {
  const folder = vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders[0];
  assert.ok(folder, 'the test needs a workspace folder (run through test/integration/run.sh)');
  return vscode.Uri.joinPath(folder.uri, ...parts);
}

/** 0-based line of the `{` that opens the layers[] entry whose config.name is `name`, found in the raw text. */
function lineOfLayerObject(text, name) {
  const nameAt = text.indexOf(`"name": "${name}"`);
  assert.ok(nameAt >= 0, `"name": "${name}" not found in model.json`);
  const classAt = text.lastIndexOf('"class_name"', nameAt); // the layer's own class_name comes before its config
  const openAt = text.lastIndexOf('{', classAt);
  assert.ok(classAt >= 0 && openAt >= 0, `no layer object around "${name}"`);
  return { line: text.slice(0, openAt).split('\n').length - 1, nameLine: text.slice(0, nameAt).split('\n').length - 1 };
}

const show = (ds) => ds.map((d) => `${d.code} L${d.range.start.line + 1}:${d.range.start.character + 1} ${d.message}`).join('\n  ');

suite('LeakLint in the extension host', () => {
  let extension;

  suiteSetup(async () => {
    extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `extension ${EXTENSION_ID} is not loaded`);
    await extension.activate();
  });

  test('activates and registers its commands', async () => {
    assert.strictEqual(extension.isActive, true);
    assert.strictEqual(path.resolve(extension.extensionPath), path.resolve(__dirname, '../../..'));
    const commands = await vscode.commands.getCommands(true);
    for (const id of ['leaklint.auditWorkspace', 'leaklint.showLayers']) assert.ok(commands.includes(id), `${id} not registered`);
  });

  suite('leaklint.auditWorkspace', () => {
    suiteSetup(async () => {
      // Resolves once the audit loop has finished: diagnostics are set before the command returns.
      await vscode.commands.executeCommand('leaklint.auditWorkspace');
    });

    test('model.json: LL002 on the conv_2 layer object, with its range', async () => {
      const uri = workspaceFile('tfjs', 'model.json');
      const text = fs.readFileSync(uri.fsPath, 'utf8');
      const expected = lineOfLayerObject(text, 'conv_2');
      const diagnostics = vscode.languages.getDiagnostics(uri);
      assert.ok(diagnostics.length > 0, 'no diagnostics for tfjs/model.json');
      for (const d of diagnostics) assert.strictEqual(d.source, 'leaklint');
      const ll002 = diagnostics.filter((d) => d.code === 'LL002');
      assert.strictEqual(ll002.length, 1, `expected one LL002 on model.json, got:\n  ${show(diagnostics)}`);
      const [d] = ll002;
      assert.match(d.message, /^conv_2: /);
      assert.strictEqual(d.range.start.line, expected.line, `LL002 should start at line ${expected.line + 1}, got:\n  ${show(ll002)}`);
      assert.ok(d.range.end.line > expected.nameLine, 'the range should cover the whole layer object');
      assert.strictEqual(d.severity, vscode.DiagnosticSeverity.Error); // high, with the default failOn
    });

    test('model.onnx: diagnostics, LL002 on conv_2', () => {
      const diagnostics = vscode.languages.getDiagnostics(workspaceFile('model.onnx'));
      assert.ok(diagnostics.length > 0, 'no diagnostics for model.onnx');
      for (const d of diagnostics) assert.strictEqual(d.source, 'leaklint');
      assert.ok(
        diagnostics.some((d) => d.code === 'LL002' && d.message.startsWith('conv_2: ')),
        `no LL002 for conv_2 in model.onnx:\n  ${show(diagnostics)}`,
      );
    });

    test('bad.onnx: one error diagnostic with the read error code', () => {
      const diagnostics = vscode.languages.getDiagnostics(workspaceFile('bad.onnx'));
      assert.strictEqual(diagnostics.length, 1, `expected one diagnostic for bad.onnx, got:\n  ${show(diagnostics)}`);
      const [d] = diagnostics;
      assert.strictEqual(d.code, 'not-a-model');
      assert.strictEqual(d.source, 'leaklint');
      assert.strictEqual(d.severity, vscode.DiagnosticSeverity.Error);
      assert.strictEqual(d.range.start.line, 0);
    });
  });
});
