// Reconstruct from Shared Gradients (`leaklint attack --gradients <file> [--image <file>]`): the attack on gradients a
// client shared, in the background runtime, shown in the reconstruction view. The workspace's shared/ folder holds
// PyTorch's gradients of one training step of cnn6 on chelsea.png with label 3 (test/fixtures/torch/cnn6.safetensors,
// which also carries the true input as `__input__`) and that image. The files are passed as the command's arguments,
// which skips the file pickers.
'use strict';
const assert = require('assert');
const vscode = require('vscode');
const { workspaceFile, leaklint, closeAllEditors } = require('./helpers');

const GRADIENTS = () => workspaceFile('shared', 'cnn6-step.safetensors');
const IMAGE = () => workspaceFile('shared', 'chelsea.png');

/** The preprocessing the gradients were made with: value/255 − 0.5 (test/fixtures/torch/README.md). */
async function setNormalization(mean) {
  await vscode.workspace.getConfiguration('leaklint').update('attack.inputMean', mean, vscode.ConfigurationTarget.Workspace);
}

suite('LeakLint reconstruction from shared gradients', () => {
  suiteSetup(async () => {
    await leaklint();
    await setNormalization([0.5]);
  });
  suiteTeardown(async () => {
    await setNormalization(undefined);
    await closeAllEditors();
  });

  test('the shared gradients of cnn6 give chelsea.png back, measured against the original image', async function () {
    this.timeout(180_000);
    const view = await vscode.commands.executeCommand('leaklint.reconstructFromGradients', workspaceFile('cnn6.onnx'), GRADIENTS(), IMAGE());
    assert.ok(view, 'the command returned no view');
    const state = await view.finished;
    assert.strictEqual(state.phase, 'done', `attack ended in ${state.phase}: ${state.message}`);
    assert.deepStrictEqual(state.shared && [state.shared.gradientsName, state.shared.imageName], ['cnn6-step.safetensors', 'chelsea.png']);
    assert.strictEqual(state.images.length, 1, 'shared gradients are one training step: one image');
    const [image] = state.images;
    assert.strictEqual(image.name, 'chelsea.png');
    assert.strictEqual(image.recoveredLabel, 3, 'the label of the step, recovered from the gradients');
    assert.ok(image.reachedInput && image.reconstructedSrc && image.originalSrc, 'the original beside its reconstruction');
    // cnn6 is fully recoverable: the closed form gives the image back to rounding (PSNR null means identical).
    assert.ok(image.psnr === null || image.psnr > 60, `PSNR ${image.psnr}`);
    assert.ok(image.ssim > 0.99, `SSIM ${image.ssim}`);
    assert.match(state.verdict, /\S/);
    await closeAllEditors();
  });

  test('without an original image the view shows the reconstruction of the step the file holds', async function () {
    this.timeout(180_000);
    const view = await vscode.commands.executeCommand('leaklint.reconstructFromGradients', workspaceFile('cnn6.onnx'), GRADIENTS());
    const state = await view.finished;
    assert.strictEqual(state.phase, 'done', `attack ended in ${state.phase}: ${state.message}`);
    assert.strictEqual(state.shared.imageName, undefined);
    assert.strictEqual(state.images.length, 1);
    assert.strictEqual(state.images[0].recoveredLabel, 3);
    assert.ok(state.images[0].reachedInput && state.images[0].reconstructedSrc);
    await closeAllEditors();
  });

  test('gradients of another model are refused with the reason, and the view says so', async function () {
    this.timeout(120_000);
    // model.onnx is CNN6-d: its layer 2 has 20 filters where cnn6's has 36.
    const view = await vscode.commands.executeCommand('leaklint.reconstructFromGradients', workspaceFile('model.onnx'), GRADIENTS(), IMAGE());
    const state = await view.finished;
    assert.strictEqual(state.phase, 'failed', `attack ended in ${state.phase}`);
    assert.match(state.message, /conv_2|shape|values/, state.message);
    await closeAllEditors();
  });
});
