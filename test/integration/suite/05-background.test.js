// Analysis without asking: the first suite to run, before any LeakLint command. On activation every model of the
// workspace is analysed in the background (the worker's discovery, then one audit per model) and its diagnostics
// appear; outcomes are cached, so asking again needs no worker job; .onnx files open in the Layer View.
'use strict';
const assert = require('assert');
const vscode = require('vscode');
const { WORKSPACE_MODELS, workspaceFile, leaklint, waitFor, diagnosticsOf, codeOf, show, closeAllEditors } = require('./helpers');

suite('LeakLint background analysis', () => {
  let api;
  suiteSetup(async () => {
    ({ api } = await leaklint());
  });

  test('every model of the workspace gets its diagnostics without any command being run', async function () {
    this.timeout(300_000);
    const restored = await api.restored;
    assert.deepStrictEqual(restored.models, [], 'a fresh storage has nothing to restore');
    // Each model's audit includes the exact rank of its gradients' Jacobian (15-25 s for these 3×32×32 models).
    const summary = await waitFor(() => api.scanFinished(), 'the background scan to finish', 220_000);
    assert.strictEqual(summary.models, WORKSPACE_MODELS.length, JSON.stringify(summary));
    assert.strictEqual(summary.analysed, WORKSPACE_MODELS.length, 'each model analysed once by the worker');
    for (const parts of WORKSPACE_MODELS) {
      const model = workspaceFile(...parts);
      const diagnostics = diagnosticsOf(model);
      assert.ok(diagnostics.length > 0, `no diagnostics for ${parts.join('/')}`);
      assert.ok(api.analyses.get(model), `no analysis of ${parts.join('/')}`);
    }
    assert.strictEqual(codeOf(diagnosticsOf(workspaceFile('bad.onnx'))[0]), 'not-a-model');
    assert.ok(
      diagnosticsOf(workspaceFile('tfjs', 'model.json')).some((d) => codeOf(d) === 'LL002'),
      show(diagnosticsOf(workspaceFile('tfjs', 'model.json'))),
    );
    const jobs = api.workerJobs();
    assert.strictEqual(jobs['fingerprinted-audit'], WORKSPACE_MODELS.length, JSON.stringify(jobs));
    assert.strictEqual(jobs.discover, 1, JSON.stringify(jobs));
  });

  test('an unchanged model is not analysed again (the cache answers, no worker job)', async () => {
    const before = { ...api.workerJobs() };
    const analysis = await api.analyses.analyse(workspaceFile('cnn6.onnx'));
    assert.strictEqual(analysis.kind, 'report');
    assert.deepStrictEqual(api.workerJobs(), before);
  });

  test('an .onnx file opens in the LeakLint Layer View by default', async () => {
    const model = workspaceFile('model.onnx');
    await vscode.commands.executeCommand('vscode.open', model);
    const tab = await waitFor(() => {
      const active = vscode.window.tabGroups.activeTabGroup.activeTab;
      return active && active.input instanceof vscode.TabInputCustom && active;
    }, 'a custom editor tab');
    assert.strictEqual(tab.input.viewType, 'leaklint.layerView');
    assert.strictEqual(tab.input.uri.toString(), model.toString());
    await closeAllEditors();
  });
});
