// Show Reconstructions: the attack runs in the background runtime and the webview gets images and metrics.
'use strict';
const assert = require('assert');
const vscode = require('vscode');
const { workspaceFile, leaklint, waitFor } = require('./helpers');

suite('LeakLint reconstructions', () => {
  suiteSetup(leaklint);

  test('runs the attack on model.onnx and shows each image beside its reconstruction', async function () {
    this.timeout(240_000);
    const view = await vscode.commands.executeCommand('leaklint.showReconstructions', workspaceFile('model.onnx'));
    assert.ok(view, 'the command returned no view');
    const state = await view.finished;
    assert.strictEqual(state.phase, 'done', `attack ended in ${state.phase}: ${state.message}`);
    assert.ok(state.images.length > 0, 'no images');
    assert.ok(state.verdict && state.verdict.length > 10, 'no verdict');
    for (const image of state.images) {
      assert.ok(image.layers.length > 0, `${image.name}: no per-layer results`);
      if (image.reachedInput) {
        assert.ok(image.reconstructedSrc, `${image.name}: no reconstruction image`);
        assert.ok(image.psnr === null || typeof image.psnr === 'number', `${image.name}: PSNR`);
      }
    }
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('Cancel stops a running attack, and the view says so', async function () {
    this.timeout(120_000);
    const view = await vscode.commands.executeCommand('leaklint.showReconstructions', workspaceFile('model.onnx'));
    await waitFor(
      () => view.state.phase === 'running',
      () => `the attack to start (phase ${view.state.phase})`,
    );
    view.cancel();
    const state = await view.finished;
    assert.strictEqual(state.phase, 'cancelled', `ended in ${state.phase}: ${state.message}`);
    // The runtime takes the next job afterwards.
    const analysis = await vscode.commands.executeCommand('leaklint.auditCurrentModel', workspaceFile('cnn6.onnx'));
    assert.strictEqual(analysis.kind, 'report');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('a background runtime killed mid-attack fails that job with a clear message, and the next job works', async function () {
    this.timeout(120_000);
    const { api } = await leaklint();
    const view = await vscode.commands.executeCommand('leaklint.showReconstructions', workspaceFile('cnn6.onnx'));
    // The panel says 'starting' before the job reaches the worker; progress from the worker means it runs there.
    const inWorker = () => view.state.phase === 'running' && view.state.progress && view.state.progress.label !== 'starting';
    const pid = await waitFor(
      () => inWorker() && api.runtimePid(),
      () => `the attack to run in the worker (phase ${view.state.phase})`,
    );
    process.kill(pid, 'SIGKILL');
    const state = await view.finished;
    assert.strictEqual(state.phase, 'failed', `ended in ${state.phase}: ${state.message}`);
    assert.match(state.message, /killed|SIGKILL/, state.message);
    const analysis = await vscode.commands.executeCommand('leaklint.auditCurrentModel', workspaceFile('model.onnx'));
    assert.strictEqual(analysis.kind, 'report');
    assert.notStrictEqual(api.runtimePid(), pid, 'a fresh child process took the next job');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
