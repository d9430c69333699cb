// The gradient graph against PyTorch: test/fixtures/torch/inverting-gradients/<model>.safetensors holds, for one
// fixture model, shared gradients (of a sample image), a dummy image, and the Inverting Gradients objective and its
// image gradient that torch.autograd computed in float64 at the dummy (scripts/torch/reference_inverting_gradients.py).
// The graph, fed the same dummy and shared gradients and run by onnxruntime-node in float32, must give the same
// objective and image gradient (to 1e-4 of the gradient's largest entry); and the engine's float64 training step on
// the truth image must give the shared gradients torch computed.
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AttackNetwork } from '../../src/engine/attack/network/attackNetwork';
import { parseSafetensorsWithMetadata, type NamedTensor } from '../../src/engine/readers/safetensors';
import { readModelFile } from './files';
import { buildInvertingGradientsGraph } from '../../src/engine/gradientGraph';
import { createGradientSession, type GradientSession } from '../../src/worker/gradientSession';

const REPO = path.resolve(__dirname, '..', '..');
const REFERENCES = path.join(REPO, 'test', 'fixtures', 'torch', 'inverting-gradients');
const MODELS = ['cnn6', 'lenet-sigmoid', 'mlp', 'bn-maxpool-residual', 'depthwise-net', 'vgg-style', 'conv-bn-maxpool', 'resnet-small'];
const RESERVED = new Set(['__truth__', '__dummy__', '__loss__', '__grad_x__']);

const sessions: GradientSession[] = [];
after(async () => {
  for (const s of sessions) await s.release();
});

/** Largest |actual − expected| over the largest |expected|. */
function relativeDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'length');
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    maxDiff = Number.isNaN(diff) ? Infinity : Math.max(maxDiff, diff);
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return maxDiff / (scale || 1);
}

for (const model of MODELS) {
  describe(`Inverting Gradients vs torch: ${model}`, () => {
    const modelFile = path.join(REPO, 'test', 'fixtures', 'generated', model, 'model.onnx');
    const referenceFile = path.join(REFERENCES, `${model}.safetensors`);
    const { tensors, metadata } = parseSafetensorsWithMetadata(fs.readFileSync(referenceFile), referenceFile);
    const get = (name: string): NamedTensor => {
      const t = tensors.get(name);
      assert.ok(t, `the reference file has no "${name}"`);
      return t;
    };
    const shared = new Map([...tensors].filter(([name]) => !RESERVED.has(name)));
    const label = Number(metadata.label);
    const tvWeight = Number(metadata.tv_weight);

    it('was made from the committed model file (else rerun scripts/torch/reference_inverting_gradients.py)', () => {
      assert.equal(metadata.model, `test/fixtures/generated/${model}/model.onnx`);
      assert.equal(createHash('sha256').update(fs.readFileSync(modelFile)).digest('hex'), metadata.model_sha256);
      assert.ok(Number.isInteger(label) && tvWeight > 0, `label ${metadata.label}, tv_weight ${metadata.tv_weight}`);
    });

    it("the engine's training step on the truth image gives torch's shared gradients (float32-rounded)", async () => {
      const net = AttackNetwork.fromGraph(await readModelFile(modelFile));
      const { trace, step } = net.trainingStep(get('__truth__').values, label);
      const named = net.namedGradients(step, trace);
      assert.deepEqual([...named.keys()].sort(), [...shared.keys()].sort());
      for (const [name, t] of shared) assert.ok(relativeDifference(named.get(name)!.values, t.values) < 1e-6, name);
    });

    it('the graph gives torch’s objective and image gradient at the dummy image', async (t) => {
      const net = AttackNetwork.fromGraph(await readModelFile(modelFile));
      const graph = buildInvertingGradientsGraph(net, { label, shared, tvWeight });
      assert.deepEqual([...graph.parameters].sort(), [...shared.keys()].sort(), 'the cosine runs over every parameter');
      const session = await createGradientSession(graph);
      sessions.push(session);
      const { loss, gradient } = await session.evaluate(Float32Array.from(get('__dummy__').values));
      const expectedLoss = get('__loss__').values[0];
      const lossDifference = Math.abs(loss - expectedLoss) / expectedLoss;
      const gradientDifference = relativeDifference(gradient, get('__grad_x__').values);
      t.diagnostic(
        `${model}: objective ${loss.toFixed(6)} (torch ${expectedLoss.toFixed(6)}), image gradient differs by ${gradientDifference.toExponential(2)} of its scale`,
      );
      assert.ok(lossDifference < 1e-5, `objective differs by ${lossDifference.toExponential(2)}`);
      assert.ok(gradientDifference < 1e-4, `image gradient differs by ${gradientDifference.toExponential(2)} of its scale`);
    });
  });
}
