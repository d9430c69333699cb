// Code actions on LeakLint diagnostics (vscode.executeCodeActionProvider, as Ctrl+. asks for them), each one run:
// open the layer in the Layer View (selected and revealed), explain, show the reconstruction, show a proposed change
// with its predicted metric, ignore the model (setting, or leaklint.config.json), turn the rule off.
'use strict';
const assert = require('assert');
const vscode = require('vscode');
const { workspaceFile, leaklint, waitFor, codeOf, layerDocumentUri, diagnosticsOf, show, closeAllEditors } = require('./helpers');

/** The LeakLint actions VS Code collects for a diagnostic (as Ctrl+. does: the document must be open). */
async function actionsAt(uri, diagnostic) {
  await vscode.workspace.openTextDocument(uri);
  const actions = await vscode.commands.executeCommand('vscode.executeCodeActionProvider', uri, diagnostic.range);
  return actions.filter((a) => a.title.startsWith('LeakLint: '));
}

function titled(actions, pattern) {
  const action = actions.find((a) => pattern.test(a.title));
  assert.ok(action, `no action ${pattern} among:\n  ${actions.map((a) => a.title).join('\n  ')}`);
  return action;
}

const runAction = (action) => vscode.commands.executeCommand(action.command.command, ...(action.command.arguments || []));

suite('LeakLint code actions', () => {
  let api;
  const settings = () => vscode.workspace.getConfiguration('leaklint', workspaceFile());
  suiteSetup(async () => {
    ({ api } = await leaklint());
    await api.scanFinished();
  });
  teardown(async () => {
    for (const key of ['ignore', 'rules']) {
      await settings().update(key, undefined, vscode.ConfigurationTarget.WorkspaceFolder);
      await settings().update(key, undefined, vscode.ConfigurationTarget.Workspace);
    }
    await vscode.workspace.fs.delete(workspaceFile('leaklint.config.json')).then(undefined, () => undefined);
    await closeAllEditors();
  });

  test('every LeakLint diagnostic of every model has its actions', async () => {
    const rulePatterns = [/open .* in the Layer View/, /explain LL0\d\d on /, /show the reconstruction/, /ignore /, /turn LL0\d\d off for this workspace/];
    let checked = 0;
    for (const parts of [['tfjs', 'model.json'], ['tfjs-min', 'model.json'], ['model.onnx'], ['cnn6.onnx'], ['bad.onnx']]) {
      const model = workspaceFile(...parts);
      for (const uri of model.path.endsWith('.onnx') ? [layerDocumentUri(model)] : [model]) {
        for (const d of vscode.languages.getDiagnostics(uri)) {
          const titles = (await actionsAt(uri, d)).map((a) => a.title);
          // A read failure has no rule: open (the view says why) and ignore.
          const patterns = typeof d.code === 'object' ? rulePatterns : [/open .* in the Layer View/, /ignore /];
          for (const pattern of patterns) {
            assert.ok(
              titles.some((t) => pattern.test(t)),
              `${parts.join('/')} ${codeOf(d)} ${d.message.slice(0, 40)}: no ${pattern} in\n  ${titles.join('\n  ')}`,
            );
          }
          checked++;
        }
      }
    }
    assert.ok(checked > 20, `only ${checked} diagnostics`);
  });

  test('"open in the Layer View" from an ONNX finding selects and reveals that layer', async () => {
    const model = workspaceFile('model.onnx');
    const uri = layerDocumentUri(model);
    await vscode.workspace.openTextDocument(uri);
    const d = vscode.languages.getDiagnostics(uri).find((x) => x.message.startsWith('conv_4: '));
    await runAction(titled(await actionsAt(uri, d), /open conv_4 in the Layer View/));
    const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
    assert.ok(tab.input instanceof vscode.TabInputCustom && tab.input.viewType === 'leaklint.layerView', 'the Layer View is active');
    await waitFor(
      () => api.selectedLayer(model) === 'conv_4',
      () => `the Layer View to show conv_4 selected (it shows ${api.selectedLayer(model)})`,
    );
  });

  test('"open in the Layer View" from model.json opens its layer table with the layer selected', async () => {
    const model = workspaceFile('tfjs', 'model.json');
    const d = vscode.languages.getDiagnostics(model).find((x) => codeOf(x) === 'LL002');
    await runAction(titled(await actionsAt(model, d), /open conv_2 in the Layer View/));
    await waitFor(
      () => api.selectedLayer(model) === 'conv_2',
      () => `the layer panel to show conv_2 selected (it shows ${api.selectedLayer(model)})`,
    );
  });

  test('"explain" opens a read-only explanation', async () => {
    const model = workspaceFile('tfjs', 'model.json');
    const d = vscode.languages.getDiagnostics(model).find((x) => codeOf(x) === 'LL002');
    const document = await runAction(titled(await actionsAt(model, d), /explain LL002 on conv_2/));
    assert.strictEqual(document.uri.scheme, 'leaklint-doc');
    assert.match(document.getText(), /conv\\_2/);
    assert.ok(vscode.workspace.textDocuments.every((x) => !x.isDirty && x.uri.scheme !== 'untitled'));
  });

  test('"show the reconstruction" starts the attack on the model', async function () {
    this.timeout(120_000);
    const model = workspaceFile('tfjs', 'model.json');
    const d = vscode.languages.getDiagnostics(model).find((x) => codeOf(x) === 'LL002');
    const view = await runAction(titled(await actionsAt(model, d), /show the reconstruction from model\.json/));
    assert.ok(view && view.state, 'no reconstruction view');
    assert.strictEqual(view.state.model, model.toString());
    await waitFor(
      () => view.state.phase === 'running',
      () => `the attack to run (phase ${view.state.phase})`,
    );
    view.cancel();
    assert.strictEqual((await view.finished).phase, 'cancelled');
  });

  test('"show the proposed change" where the engine proved a fix: title with the predicted metric, document with the metrics', async () => {
    const model = workspaceFile('cnn6.onnx');
    const report = api.analyses.get(model).report;
    const fixed = report.layers.find((f) => f.fixes.length);
    assert.ok(fixed, 'cnn6 has proposed fixes');
    const uri = layerDocumentUri(model);
    await vscode.workspace.openTextDocument(uri);
    const d = vscode.languages.getDiagnostics(uri).find((x) => x.message.startsWith(`${fixed.name}: `));
    const actions = await actionsAt(uri, d);
    const proposals = actions.filter((a) => /show the proposed change/.test(a.title));
    assert.strictEqual(proposals.length, fixed.fixes.length, actions.map((a) => a.title).join('\n'));
    assert.match(proposals[0].title, /\(closed-form risk \d\.\d\d → \d\.\d\d\)$/);
    const document = await runAction(proposals[0]);
    assert.strictEqual(document.uri.scheme, 'leaklint-doc');
    const text = document.getText();
    assert.ok(text.includes(fixed.fixes[0].title.replace(/_/g, '\\_')), text);
    assert.match(text, /\| closed-form risk of the model \| \d\.\d\d \| \d\.\d\d \|/);
    // No fix, no such action.
    const plain = report.layers.find((f) => !f.fixes.length);
    const other = vscode.languages.getDiagnostics(uri).find((x) => x.message.startsWith(`${plain.name}: `));
    assert.ok(!(await actionsAt(uri, other)).some((a) => /show the proposed change/.test(a.title)));
  });

  test('"ignore" writes the leaklint.ignore setting, and the model\'s findings go', async () => {
    const model = workspaceFile('cnn6.onnx');
    const uri = layerDocumentUri(model);
    await vscode.workspace.openTextDocument(uri);
    await runAction(titled(await actionsAt(uri, vscode.languages.getDiagnostics(uri)[0]), /ignore cnn6\.onnx \(leaklint\.ignore\)/));
    assert.deepStrictEqual(settings().get('ignore'), ['cnn6.onnx']);
    await waitFor(() => diagnosticsOf(model).length === 0 && !api.analyses.get(model), 'the findings of the ignored model to go');
    await settings().update('ignore', undefined, vscode.ConfigurationTarget.WorkspaceFolder);
    await waitFor(() => diagnosticsOf(model).length > 0, 'the findings to come back when it is no longer ignored');
  });

  test('"ignore" writes leaklint.config.json when the folder has one (the CLI then agrees)', async () => {
    const config = workspaceFile('leaklint.config.json');
    await vscode.workspace.fs.writeFile(config, new TextEncoder().encode('{\n  "failOn": "high"\n}\n'));
    const model = workspaceFile('tfjs-min', 'model.json');
    const d = vscode.languages.getDiagnostics(model)[0];
    await runAction(titled(await actionsAt(model, d), /ignore model\.json \(leaklint\.config\.json\)/));
    const written = JSON.parse(new TextDecoder().decode(await vscode.workspace.fs.readFile(config)));
    assert.deepStrictEqual(written, { failOn: 'high', ignore: ['tfjs-min/model.json'] });
    await waitFor(() => vscode.languages.getDiagnostics(model).length === 0, 'the findings of the ignored model to go');
    await vscode.workspace.fs.delete(config);
    await waitFor(() => vscode.languages.getDiagnostics(model).length > 0, 'the findings to come back');
  });

  test('"turn the rule off" sets it to off for the workspace, and its findings go', async () => {
    const model = workspaceFile('tfjs', 'model.json');
    const d = vscode.languages.getDiagnostics(model).find((x) => codeOf(x) === 'LL002');
    await runAction(titled(await actionsAt(model, d), /turn LL002 off for this workspace/));
    assert.deepStrictEqual(settings().get('rules'), { LL002: 'off' });
    await waitFor(
      () => !vscode.languages.getDiagnostics(model).some((x) => codeOf(x) === 'LL002'),
      () => `LL002 to go, got ${show(vscode.languages.getDiagnostics(model))}`,
    );
    await settings().update('rules', undefined, vscode.ConfigurationTarget.WorkspaceFolder);
    await waitFor(() => vscode.languages.getDiagnostics(model).some((x) => codeOf(x) === 'LL002'), 'LL002 to come back');
  });
});
