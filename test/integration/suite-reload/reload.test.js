// After a reload: the findings come back from the cache at once, without any worker job; the background scan then
// finds nothing to analyse; a model whose file was touched (same bytes) is only hashed again, a changed one analysed.
'use strict';
const assert = require('assert');
const fs = require('fs');
const vscode = require('vscode');
const { WORKSPACE_MODELS, workspaceFile, leaklint, waitFor, diagnosticsOf, diagnosticsSnapshot } = require('../suite/helpers');

suite('after a reload', () => {
  let api;
  suiteSetup(async () => {
    ({ api } = await leaklint());
  });

  test('the diagnostics of every model are restored from the cache without asking the worker', async () => {
    const restored = await api.restored;
    assert.deepStrictEqual(restored.workerJobs, {}, 'no worker job before the findings are shown');
    assert.deepStrictEqual(restored.models.map((m) => vscode.workspace.asRelativePath(m)).sort(), WORKSPACE_MODELS.map((p) => p.join('/')).sort());
    const before = JSON.parse(fs.readFileSync(workspaceFile('.leaklint-e2e', 'diagnostics.json').fsPath, 'utf8'));
    assert.deepStrictEqual(diagnosticsSnapshot(), before);
  });

  test('the background scan asks the worker to find models, and to analyse none of them', async () => {
    const summary = await waitFor(() => api.scanFinished(), 'the scan');
    assert.strictEqual(summary.models, WORKSPACE_MODELS.length);
    assert.strictEqual(summary.analysed, 0, JSON.stringify(summary));
    const jobs = api.workerJobs();
    assert.deepStrictEqual(Object.keys(jobs), ['discover'], JSON.stringify(jobs));
  });

  test('a touched model (same bytes, new time) is hashed again, not analysed; a changed one is analysed', async function () {
    this.timeout(120_000);
    const touched = workspaceFile('cnn6.onnx');
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(touched.fsPath, later, later);
    const jobs = () => ({ audits: api.workerJobs()['fingerprinted-audit'] || 0, hashes: api.workerJobs().fingerprint || 0 });
    const start = jobs();
    const analysis = await api.analyses.analyse(touched);
    assert.strictEqual(analysis.kind, 'report');
    assert.deepStrictEqual(jobs(), { audits: start.audits, hashes: start.hashes + 1 });

    const changed = workspaceFile('tfjs-min', 'model.json');
    const text = fs.readFileSync(changed.fsPath, 'utf8');
    fs.writeFileSync(changed.fsPath, `${text}\n`); // same model, other bytes
    const again = await api.analyses.analyse(changed);
    assert.strictEqual(again.kind, 'report');
    assert.strictEqual(jobs().audits, start.audits + 1);
    await waitFor(() => diagnosticsOf(changed).length > 0, 'its diagnostics');
  });
});
