// The attack's float64 training step against PyTorch: for each fixture model, test/fixtures/torch/<model>.safetensors
// holds the logits, loss and parameter gradients torch computed (scripts/torch/reference_gradients.py, float64) for
// one sample image and a fixed label. The engine must agree to ~1e-9 of each tensor's largest magnitude.
// Also pinned here, so that a disagreement can only be the engine's: the input is the documented preprocessing of the
// PNG, the reference was made from the committed ONNX file, and torch's interpretation of the graph gives the same
// logits as onnxruntime (in float32).
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { AttackNetwork } from '../../src/engine/attack/network/attackNetwork';
import { readModelFile } from './files';
import { torchReferenceInput as preprocess } from './torch-input';
import { parseSafetensorsWithMetadata, type NamedTensor } from '../../src/engine/readers/safetensors';

// onnxruntime-node writes a telemetry log into $TMPDIR per process unless this is set before the first session.
process.env.ORT_DISABLE_TELEMETRY = '1';

const REPO = path.resolve(__dirname, '..', '..');
const TORCH = path.join(REPO, 'test', 'fixtures', 'torch');
const FIXTURES = path.resolve(REPO, 'test', 'fixtures');
const MODELS = ['cnn6', 'lenet-sigmoid', 'relu-net', 'bn-maxpool-residual', 'depthwise-net', 'mlp', 'vgg-style', 'conv-bn-maxpool', 'resnet-small'];
const RESERVED = new Set(['__input__', '__logits__', '__loss__']);

/** Largest |actual − expected| relative to the largest |expected| (so tiny entries of a tensor don't dominate). */
function relativeDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'length');
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    // NaN in either side must fail, so it is not allowed to hide behind Math.max.
    maxDiff = Number.isNaN(diff) ? Infinity : Math.max(maxDiff, diff);
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return maxDiff / (scale || 1);
}

function tensorOf(tensors: Map<string, NamedTensor>, name: string): NamedTensor {
  const t = tensors.get(name);
  assert.ok(t, `the reference file has no "${name}"`);
  return t;
}

for (const model of MODELS) {
  describe(`torch reference: ${model}`, () => {
    const modelFile = path.join(REPO, 'test', 'fixtures', 'generated', model, 'model.onnx');
    const torchFile = path.join(TORCH, `${model}.safetensors`);
    const { tensors, metadata } = parseSafetensorsWithMetadata(fs.readFileSync(torchFile), torchFile);
    const input = tensorOf(tensors, '__input__');
    const logits = tensorOf(tensors, '__logits__');
    const loss = tensorOf(tensors, '__loss__');
    const label = Number(metadata.label);

    it('was made from the committed model file (else rerun /usr/bin/python3 scripts/torch/reference_gradients.py)', async () => {
      assert.equal(metadata.model, `test/fixtures/generated/${model}/model.onnx`);
      assert.equal(createHash('sha256').update(fs.readFileSync(modelFile)).digest('hex'), metadata.model_sha256);
      assert.ok(Number.isInteger(label) && label >= 0 && label < logits.values.length, `label ${metadata.label}`);
      assert.deepEqual(loss.shape, [1]);
    });

    it('its input is the documented preprocessing of the sample image, bit for bit', async () => {
      const image = path.join(FIXTURES, metadata.image);
      assert.deepEqual(input.values, preprocess(image, input.shape));
    });

    it("torch's graph interpretation matches onnxruntime (float32)", async () => {
      const session = await ort.InferenceSession.create(modelFile);
      const result = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(input.values), input.shape) });
      const difference = relativeDifference(result[session.outputNames[0]].data as Float32Array, logits.values);
      assert.ok(difference < 1e-5, `onnxruntime vs torch logits differ by ${difference.toExponential(2)} of their scale`);
    });

    it('the engine computes the same logits, loss and parameter gradients', async (t) => {
      const net = AttackNetwork.fromGraph(await readModelFile(modelFile));
      const { trace, step } = net.trainingStep(input.values, label);
      const gradients = net.namedGradients(step, trace);

      const differences: [string, number][] = [
        ['logits', relativeDifference(trace.logits, logits.values)],
        ['loss', relativeDifference([step.loss], loss.values)],
      ];
      const expectedNames = [...tensors.keys()].filter((name) => !RESERVED.has(name));
      assert.deepEqual([...gradients.keys()].sort(), [...expectedNames].sort(), 'gradient names (the ONNX initializers that are parameters)');
      for (const name of expectedNames) {
        const expected = tensors.get(name)!;
        const actual = gradients.get(name)!;
        assert.deepEqual(actual.shape, expected.shape, `shape of ∂loss/∂${name}`);
        differences.push([name, relativeDifference(actual.values, expected.values)]);
      }

      const [worstName, worst] = differences.reduce((a, b) => (b[1] > a[1] ? b : a));
      t.diagnostic(`${model}: worst relative difference ${worst.toExponential(2)} (${worstName}); loss ${step.loss.toFixed(6)}`);
      const over = differences.filter(([, d]) => !(d <= 1e-9)).map(([name, d]) => `${name} ${d.toExponential(2)}`);
      assert.deepEqual(over, [], 'tensors that differ from torch by more than 1e-9 of their scale');
    });
  });
}
