// Show Reconstructions: the attack runs in the background runtime and the webview gets images and metrics; on
// model.onnx (CNN6-d, whose deficient layer 2 makes the closed form fall short) the default method, auto, runs
// gradient matching, and the view shows its loss curve and current image while it runs.
'use strict';
const assert = require('assert');
const vscode = require('vscode');
const { workspaceFile, leaklint, waitFor } = require('./helpers');

/** Workspace settings of this suite: a short gradient-matching budget (the unit tests run the documented one). */
async function setAttackSettings(values) {
  const settings = vscode.workspace.getConfiguration('leaklint');
  for (const [key, value] of Object.entries(values)) await settings.update(`attack.${key}`, value, vscode.ConfigurationTarget.Workspace);
}
const SHORT = { maxImages: 2, iterations: 150, restarts: 1 };

/** Every state the view passes through while `view.finished` is pending. */
function recordStates(view) {
  const states = [];
  const timer = setInterval(() => states.push(view.state), 25);
  return view.finished.then((final) => {
    clearInterval(timer);
    return { final, states };
  });
}

suite('LeakLint reconstructions', () => {
  suiteSetup(async () => {
    await leaklint();
    await setAttackSettings(SHORT);
  });
  suiteTeardown(() => setAttackSettings({ maxImages: undefined, iterations: undefined, restarts: undefined }));

  test('runs the attack on model.onnx: gradient matching with a live loss curve and image, then each image beside its reconstruction and its method', async function () {
    this.timeout(240_000);
    const view = await vscode.commands.executeCommand('leaklint.showReconstructions', workspaceFile('model.onnx'));
    assert.ok(view, 'the command returned no view');
    const { final: state, states } = await recordStates(view);
    assert.strictEqual(state.phase, 'done', `attack ended in ${state.phase}: ${state.message}`);
    assert.strictEqual(state.method, 'auto');
    assert.strictEqual(state.images.length, SHORT.maxImages, 'maxImages from the workspace settings');
    assert.ok(state.verdict && state.verdict.length > 10, 'no verdict');
    for (const image of state.images) {
      assert.ok(image.layers.length > 0, `${image.name}: no per-layer results of the closed form`);
      assert.ok(image.reachedInput && image.reconstructedSrc, `${image.name}: no reconstruction image`);
      assert.ok(image.psnr === null || typeof image.psnr === 'number', `${image.name}: PSNR`);
      assert.ok(['closed-form', 'hybrid', 'gradient-matching'].includes(image.method), `${image.name}: method ${image.method}`);
      assert.ok(image.matching, `${image.name}: the closed form falls short on CNN6-d, gradient matching ran`);
      assert.strictEqual(image.matching.iterations, 2 * SHORT.iterations, `${image.name}: the closed form image's run and one from noise`);
      assert.ok(image.matching.curve.length > 1);
    }
    // While gradient matching ran, the view had its progress: the loss so far and the current image.
    const live = states.filter((s) => s.phase === 'running' && s.live);
    assert.ok(live.length > 0, 'no live gradient-matching state was shown');
    const last = live[live.length - 1].live;
    assert.ok(last.points.length > 0 && last.points.every(([step, loss]) => step >= 0 && loss > 0), JSON.stringify(last.points));
    assert.match(last.previewSrc, /^data:image\/png;base64,/);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('Cancel stops gradient matching while it runs, and the view says so', async function () {
    this.timeout(120_000);
    await setAttackSettings({ iterations: 1_000_000 });
    try {
      const view = await vscode.commands.executeCommand('leaklint.showReconstructions', workspaceFile('model.onnx'));
      await waitFor(
        () => view.state.phase === 'running' && view.state.live,
        () => `gradient matching to run (phase ${view.state.phase})`,
        90_000,
      );
      view.cancel();
      const state = await view.finished;
      assert.strictEqual(state.phase, 'cancelled', `ended in ${state.phase}: ${state.message}`);
      assert.strictEqual(state.live, undefined, 'the live view is gone once cancelled');
    } finally {
      await setAttackSettings({ iterations: SHORT.iterations });
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
