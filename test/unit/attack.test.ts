// The reconstruction attack end to end (docs/algorithm.md §5, §8): label recovery, the closed-form recursion on the
// project's fixture models and the bundled CC0 sample images, gradients shared by PyTorch, and the failure modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { readModelFile } from './files';
import { runAttack, type AttackRunOptions } from '../../src/engine/attack/attack';
import type { LayerGraph } from '../../src/engine/ir';
import type { AttackReport } from '../../src/engine/attack/types';
import { AttackNetwork } from '../../src/engine/attack/network/attackNetwork';
import { logitsDeltaWithoutBias, recoverLabel } from '../../src/engine/attack/labels';
import { reconstruct } from '../../src/engine/attack/reconstruct';
import { analyseModel } from '../../src/engine/analysis/analyseModel';
import { loadSampleImages } from '../../src/engine/images/modelInput';
import { buildForwardProbe } from '../../src/engine/attack/forwardProbe';
import { createForwardSession } from '../../src/worker/ortForward';
import { encodeSafetensors, readSafetensors } from '../../src/engine/readers/safetensors';
import { bundledSamplesFolder } from '../../src/node/bundle';
import { files } from './files';

// onnxruntime-node writes a telemetry log into $TMPDIR per process unless this is set before the first session.
process.env.ORT_DISABLE_TELEMETRY = '1';

const ROOT = path.resolve(__dirname, '../..');
const generated = path.join(ROOT, 'test/fixtures/generated');
const torchFixtures = path.join(ROOT, 'test/fixtures/torch');
/** The hybrid paper's preprocessing: ToTensor() − 0.5. */
const CENTRED = { mean: [0.5], std: [1] };

const model = (name: string, file = 'model.onnx') => readModelFile(path.join(generated, name, file));
const defaultSampleFolder = bundledSamplesFolder;

/** The attack's report, on the bundled samples unless the options say otherwise. */
async function attack(graph: LayerGraph | Promise<LayerGraph>, options: Partial<AttackRunOptions> = {}): Promise<AttackReport> {
  return (await runAttack(await graph, { files, imageFolder: defaultSampleFolder(), ...options })).report;
}

test('the bundled samples are the seven CC0/public-domain photos, with their licence table', async () => {
  const folder = defaultSampleFolder();
  const pngs = fs.readdirSync(folder).filter((f) => f.endsWith('.png'));
  assert.equal(pngs.length, 7);
  const licences = fs.readFileSync(path.join(folder, 'LICENSES.md'), 'utf8');
  for (const png of pngs) assert.match(licences, new RegExp(png.replace('.png', '')), `${png} has a licence row`);
});

test('CNN6 (LeakyReLU 0.2, biased last layer) gives every sample image back to float64 precision', async (t) => {
  const report = await attack(model('cnn6'), { normalization: CENTRED });
  assert.equal(report.images.length, 7);
  for (const image of report.images) {
    t.diagnostic(
      `${image.image}: relative error ${image.relativeError?.toExponential(2)}, PSNR ${image.quality?.psnr.toFixed(1)} dB, ${image.seconds.total.toFixed(2)} s`,
    );
    assert.ok(image.reachedInput, image.image);
    assert.ok(image.labelRecovered, `${image.image}: label`);
    assert.ok(image.relativeError! < 1e-6, `${image.image}: relative error ${image.relativeError}`);
    assert.ok(image.quality!.psnr > 100, `${image.image}: PSNR ${image.quality!.psnr}`);
    assert.ok(image.quality!.ssim > 0.9999);
    // Every layer of a fully determined net is exact, from the output back to the input.
    assert.deepEqual(
      image.layers.map((l) => l.name),
      ['dense_1', 'conv_6', 'conv_5', 'conv_4', 'conv_3', 'conv_2', 'conv_1'],
    );
    for (const layer of image.layers) assert.ok(layer.relativeError! < 1e-6, `${image.image} ${layer.name}: ${layer.relativeError}`);
  }
  assert.match(report.verdict, /closed-form attack rebuilt 7 of 7 sample images/);
});

test('CNN6-d visibly fails in closed form, and the failure starts at layer 2 as the analysis predicts', async (t) => {
  const graph = await model('cnn6d');
  const analysis = analyseModel(graph, { fixes: false });
  const report = await attack(graph, { normalization: CENTRED, maxImages: 2 });
  for (const image of report.images) {
    t.diagnostic(
      `${image.image}: PSNR ${image.quality!.psnr.toFixed(1)} dB; ${image.layers.map((l) => `${l.name} ${l.relativeError!.toExponential(1)}`).join(', ')}`,
    );
    assert.ok(image.quality!.psnr < 15, `${image.image}: PSNR ${image.quality!.psnr}`);
    const firstWrong = image.layers.find((l) => l.relativeError! > 1e-3);
    assert.equal(firstWrong?.name, 'conv_2');
    const analysedFirstDeficient = analysis.layers.find(
      (l) => l.nodeId === analysis.model.firstDeficientLayer || l.name === analysis.model.firstDeficientLayer,
    );
    assert.equal(analysedFirstDeficient?.name, 'conv_2');
    // The layers after it (solved first) are exact.
    for (const layer of image.layers.slice(0, image.layers.indexOf(firstWrong!))) assert.ok(layer.relativeError! < 1e-9, layer.name);
  }
  assert.match(report.verdict, /did not rebuild the samples/);
});

test('LeNet with Sigmoid and a ReLU CNN (R-CONV route) are rebuilt with PSNR above 30 dB', async (t) => {
  for (const name of ['lenet-sigmoid', 'relu-cnn']) {
    const report = await attack(model(name), { normalization: CENTRED, maxImages: 2 });
    for (const image of report.images) {
      t.diagnostic(`${name} ${image.image}: PSNR ${image.quality!.psnr.toFixed(1)} dB, SSIM ${image.quality!.ssim.toFixed(4)}`);
      assert.ok(image.quality!.psnr > 30, `${name} ${image.image}: PSNR ${image.quality!.psnr}`);
    }
  }
});

test('the TF.js export of CNN6 is attacked like the ONNX file (same engine, same result)', async () => {
  const onnx = await attack(model('cnn6'), { normalization: CENTRED, maxImages: 1 });
  const tfjs = await attack(model('cnn6', 'tfjs/model.json'), { normalization: CENTRED, maxImages: 1 });
  assert.equal(tfjs.images[0].recoveredLabel, onnx.images[0].recoveredLabel);
  assert.ok(tfjs.images[0].relativeError! < 1e-6);
  assert.deepEqual(
    tfjs.images[0].layers.map((l) => [l.name, l.method]),
    onnx.images[0].layers.map((l) => [l.name, l.method]),
  );
});

test('label recovery: the bias rule finds every class; without the bias, the row rules and the 1-D scale solve', async () => {
  for (const name of ['cnn6', 'relu-cnn']) {
    const net = AttackNetwork.fromGraph(await model(name));
    const [sample] = await loadSampleImages(files, defaultSampleFolder(), net.inputShape, CENTRED, { limit: 1 });
    const logitsId = net.logitsUnit.id;
    for (let label = 0; label < net.classes; label++) {
      const { step } = net.trainingStep(sample.input, label);
      const grads = step.gradients.get(logitsId)!;
      assert.deepEqual(recoverLabel(grads.kernel, net.classes, grads.bias, false), { label, rule: 'bias' }, `${name} class ${label}`);
      // relu-cnn feeds the classifier non-negative ReLU outputs (row-sum rule); CNN6 feeds LeakyReLU outputs (row-sign rule).
      const nonNegative = name === 'relu-cnn';
      assert.deepEqual(
        recoverLabel(grads.kernel, net.classes, undefined, nonNegative),
        { label, rule: nonNegative ? 'row-sum' : 'row-sign' },
        `${name} class ${label}`,
      );
      const trueDelta = step.preActivationGrad.get(logitsId)!;
      const solved = logitsDeltaWithoutBias(grads.kernel, net.kernel(logitsId), net.classes, label, net.bias(logitsId));
      for (let j = 0; j < net.classes; j++)
        assert.ok(Math.abs(solved[j] - trueDelta[j]) < 1e-6, `${name} class ${label}: δz[${j}] ${solved[j]} vs ${trueDelta[j]}`);
    }
  }
});

test('gradients computed by PyTorch (a .safetensors a client shared) give the training image back', async (t) => {
  for (const name of ['cnn6', 'lenet-sigmoid']) {
    const file = path.join(torchFixtures, `${name}.safetensors`);
    const truth = (await readSafetensors(files, file)).get('__input__')!.values;
    const report = await attack(model(name), { gradientsFile: file, normalization: CENTRED });
    const [image] = report.images;
    assert.ok(image.quality!.psnr > 100, 'the file carries __input__, so the quality is measured');
    t.diagnostic(`${name}: relative error ${image.relativeError?.toExponential(2)}, label ${image.recoveredLabel}`);
    assert.equal(report.gradientsFrom, 'safetensors');
    assert.ok(image.reachedInput);
    assert.ok(image.relativeError! < 1e-6, `${name}: ${image.relativeError}`);
    assert.equal(truth.length, 3 * 32 * 32);
  }
});

test('a shared-gradients file that misses a parameter is refused with its name', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-attack-'));
  const named = await readSafetensors(files, path.join(torchFixtures, 'cnn6.safetensors'));
  named.delete('conv_3.weight');
  const file = path.join(dir, 'partial.safetensors');
  fs.writeFileSync(file, encodeSafetensors(named, 'F32'));
  await assert.rejects(attack(model('cnn6'), { gradientsFile: file }), /conv_3\.weight/);
});

test('a residual block with max pooling stops the closed form with the reason, and the report never claims the image came back', async () => {
  const report = await attack(model('bn-maxpool-residual'), { normalization: CENTRED, maxImages: 1 });
  const [image] = report.images;
  assert.equal(image.reachedInput, false);
  assert.ok(image.stoppedAt);
  assert.match(image.stoppedAt!.reason, /relu_3|max pooling|residual/);
  assert.equal(image.quality, undefined);
  assert.match(report.verdict, /stopped before the image.*does not make the model safe/);
});

test('reconstruct() reports per-layer residuals, methods and the recovered label without knowing the truth', async () => {
  const net = AttackNetwork.fromGraph(await model('cnn2_c2'));
  const [sample] = await loadSampleImages(files, defaultSampleFolder(), net.inputShape, CENTRED, { limit: 1 });
  const { step } = net.trainingStep(sample.input, 4);
  const rec = reconstruct(net, step.gradients);
  assert.equal(rec.recovered.label, 4);
  for (const layer of rec.layers) {
    assert.equal(layer.relativeError, undefined);
    assert.ok(Number.isFinite(layer.relativeResidual));
    assert.ok(layer.unknowns > 0 && layer.equations > 0);
  }
  assert.ok(rec.input);
});

test('leaklint attack writes the PNGs, per-image JSON, attack.json and the HTML report (built CLI, background worker)', async () => {
  const cli = path.join(ROOT, 'dist/cli.js');
  assert.ok(fs.existsSync(cli), 'npm test builds dist/ first');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-attack-cli-'));
  const run = spawnSync(
    process.execPath,
    [
      cli,
      'attack',
      path.join(generated, 'lenet-sigmoid/model.onnx'),
      '--max-images',
      '2',
      '--mean',
      '0.5',
      '--out',
      out,
      '--format',
      'html,markdown',
      '--fail-on-leak',
    ],
    { encoding: 'utf8', env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' } },
  );
  assert.equal(run.status, 1, `exit 1 = leak proven with --fail-on-leak\n${run.stderr}`);
  assert.match(run.stdout, /astronaut\.png/);
  for (const stem of ['astronaut', 'camera']) {
    for (const suffix of ['-original.png', '-reconstructed.png', '-side-by-side.png', '.json']) {
      assert.ok(fs.existsSync(path.join(out, stem + suffix)), stem + suffix);
    }
    const json = JSON.parse(fs.readFileSync(path.join(out, `${stem}.json`), 'utf8'));
    assert.ok(json.quality.psnr === null || json.quality.psnr > 30, 'an exact reconstruction has PSNR null (JSON has no infinity)');
    assert.ok(Array.isArray(json.layers) && json.layers.length === 4);
  }
  const attack = JSON.parse(fs.readFileSync(path.join(out, 'attack.json'), 'utf8'));
  assert.ok(attack.runtimeCheck.maxAbsDifference < 1e-4, 'onnxruntime-node agrees with the float64 forward pass');
  const html = fs.readFileSync(path.join(out, 'leaklint-attack.html'), 'utf8');
  assert.equal((html.match(/src="data:image\/png;base64,/g) ?? []).length, 2);
  assert.match(fs.readFileSync(path.join(out, 'leaklint-attack.md'), 'utf8'), /## Reconstruction attack/);
});

test('leaklint attack on a missing image folder or a bad label fails with exit 2 and a clear message', async () => {
  const cli = path.join(ROOT, 'dist/cli.js');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-attack-bad-'));
  const missing = spawnSync(process.execPath, [cli, 'attack', path.join(generated, 'cnn6/model.onnx'), '--image', path.join(out, 'nope'), '--out', out], {
    encoding: 'utf8',
  });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--image .*nope: no such file or folder/);
  const badLabel = spawnSync(process.execPath, [cli, 'attack', path.join(generated, 'mlp/model.onnx'), '--label', '12', '--out', out], { encoding: 'utf8' });
  assert.equal(badLabel.status, 2);
  assert.match(badLabel.stderr, /label 12 is not a class of this model/);
});

test('the gradient-matching correction improves a rank-deficient net (direction asserted, numbers reported)', async (t) => {
  // cnn2_c2: 6 filters 4×4/2 on 3×32×32 — the first layer's system is under-determined (docs/algorithm.md §4.5).
  const graph = model('cnn2_c2');
  const closed = await attack(graph, { normalization: CENTRED, maxImages: 1 });
  const refined = await attack(graph, { normalization: CENTRED, maxImages: 1, refine: true, refineBudgetMs: 6000 });
  const before = closed.images[0];
  const after = refined.images[0];
  const layer = after.layers.find((l) => l.name === 'conv_1')!;
  t.diagnostic(
    `PSNR ${before.quality!.clipped.psnr.toFixed(2)} → ${after.quality!.clipped.psnr.toFixed(2)} dB, SSIM ${before.quality!.clipped.ssim.toFixed(3)} → ${after.quality!.clipped.ssim.toFixed(3)}, ` +
      `relative error ${before.relativeError!.toFixed(3)} → ${after.relativeError!.toFixed(3)} after ${layer.refinement!.iterations} Adam steps in ${layer.refinement!.seconds.toFixed(1)} s`,
  );
  assert.ok(before.quality!.clipped.psnr < 15, 'the closed form alone fails');
  assert.ok(after.quality!.clipped.psnr > before.quality!.clipped.psnr, 'the correction raises PSNR');
  assert.ok(after.relativeError! < before.relativeError!, 'and lowers the error');
  assert.ok(layer.refinement!.objectiveAfter < layer.refinement!.objectiveBefore);
  assert.equal(after.layers.find((l) => l.name === 'dense_1')!.refinement, undefined, 'dense layers are exact in closed form: no correction');
});

test('onnxruntime-node (every intermediate exposed) agrees with the float64 network on every unit output', async () => {
  for (const name of ['bn-maxpool-residual', 'depthwise-net', 'relu-cnn']) {
    const file = path.join(generated, name, 'model.onnx');
    const session = await createForwardSession(await buildForwardProbe(files, file));
    const report = await attack(await readModelFile(file), { maxImages: 1, forwardCheck: (x, shape) => session.run(x, shape) });
    await session.release();
    assert.ok(report.runtimeCheck, name);
    assert.ok(report.runtimeCheck!.tensorsCompared >= 4, `${name}: ${report.runtimeCheck!.tensorsCompared} tensors`);
    assert.ok(report.runtimeCheck!.maxAbsDifference < 1e-5, `${name}: ${report.runtimeCheck!.maxAbsDifference}`);
  }
});

test('audit --attack puts the image pairs in the HTML/Markdown reports, and lists a model the attack cannot run on', async () => {
  const cli = path.join(ROOT, 'dist/cli.js');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-audit-attack-'));
  const squeezenet = path.resolve(ROOT, 'test/fixtures/third-party/onnx-light-squeezenet/model.onnx');
  const run = spawnSync(
    process.execPath,
    [
      cli,
      'audit',
      squeezenet,
      path.join(generated, 'mlp/model.onnx'),
      '--attack',
      '--attack-images',
      '1',
      '--format',
      'markdown,html,json',
      '--fail-on',
      'none',
      '--out',
      out + path.sep,
    ],
    { encoding: 'utf8', env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' } },
  );
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /onnx-light-squeezenet\/model\.onnx: attack not run: the last layer \(n64\) is not fully connected/);
  const markdown = fs.readFileSync(path.join(out, 'leaklint-report.md'), 'utf8');
  assert.match(markdown, /The attack did not run: .*does not prove the model safe/);
  assert.match(markdown, /!\[astronaut\.png\]\(reconstructions\/.*mlp-model\/astronaut-side-by-side\.png\)/);
  const html = fs.readFileSync(path.join(out, 'leaklint-report.html'), 'utf8');
  assert.equal((html.match(/src="data:image\/png;base64,/g) ?? []).length, 1);
  const json = JSON.parse(fs.readFileSync(path.join(out, 'leaklint-report.json'), 'utf8'));
  assert.equal(json.attacks.length, 2);
  assert.equal(json.attacks[1].images[0].reachedInput, true);
});
